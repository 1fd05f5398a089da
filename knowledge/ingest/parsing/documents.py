"""Build :class:`Document` records from files, whatever their format."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge.clients.arxiv_ids import InvalidArxivId, find_arxiv_ids, parse_arxiv_id
from knowledge.ingest.parsing.abstracts import ABSTRACT_SUFFIXES, AbstractFormatError, iter_rows
from knowledge.ingest.parsing.files import NotRegularFile, read_capped, regular_size
from knowledge.ingest.parsing.html_posts import parse_html
from knowledge.ingest.parsing.korean_notes import looks_like_korean_notes, split_items
from knowledge.ingest.parsing.markdown_notes import parse_markdown
from knowledge.ingest.parsing.metadata import (
    SOURCE_LINE,
    canonical_url,
    date_from_filename,
    digest_for_url,
    find_date,
    find_month,
    find_urls,
)
from knowledge.ingest.parsing.plaintext import RawSection, drop_teaser, split_sections, strip_chrome
from knowledge.ingest.parsing.tables import looks_like_table_dump, table_rows
from knowledge.models import Document, Section
from knowledge.text import (
    clean_line,
    clean_text,
    content_hash,
    detect_language,
    readable_name,
    slugify,
)

log = logging.getLogger(__name__)

# Bump when parsing or chunking changes what is stored, so re-ingesting replaces old chunks.
PARSER_VERSION = "8"
POST_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
SUPPORTED_SUFFIXES = POST_SUFFIXES + ABSTRACT_SUFFIXES
MAX_FILE_BYTES = 20_000_000
# Abstract datasets are read row by row, so they may be larger than posts, but not unbounded.
MAX_ABSTRACT_FILE_BYTES = 200_000_000
_NUMERIC_FOLDER = re.compile(r"^\d+$")


class ParseError(ValueError):
    """A file could not be read as a digest post or an abstract dataset."""


def discover(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for every file under the given files and folders, sorted.

    Hidden files and folders are skipped. The root is the path as given, used to name
    the digest after its folder.
    """
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        yield Path(dirpath) / name, path
        else:
            yield path, path.parent


def digest_from_folder(file: Path, root: Path) -> str:
    """Name the digest after the first folder under ``root`` that holds the file.

    Year-like folders (``2024``) are skipped, so a vault sorted by year keeps its name.
    """
    try:
        rel_parts = file.relative_to(root).parts[:-1]
    except ValueError:
        rel_parts = ()
    for part in rel_parts:
        if not _NUMERIC_FOLDER.match(part):
            return readable_name(part)
    for parent in [root, *root.resolve().parents]:
        name = parent.name
        if name and not _NUMERIC_FOLDER.match(name):
            return readable_name(name)
    return "Digest"


def parse_file(file: Path, root: Path, *, digest: str | None = None) -> list[Document]:
    """Parse one file into documents.

    Args:
        file: The file to read.
        root: The folder it was found under (names the digest when ``digest`` is unset).
        digest: Digest name given by the user, which wins over every guess.

    Raises:
        ParseError: The file is of an unknown kind, unreadable, or empty.
    """
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ParseError(f"unsupported file type {suffix or '(none)'}")
    cap = MAX_ABSTRACT_FILE_BYTES if suffix in ABSTRACT_SUFFIXES else MAX_FILE_BYTES
    _check_size(file, cap)
    source = os.path.normpath(str(file))
    if suffix in ABSTRACT_SUFFIXES:
        try:
            return list(abstract_documents(file, source))
        except AbstractFormatError as exc:
            raise ParseError(str(exc)) from exc
        except OSError as exc:
            raise ParseError(f"cannot read: {exc.strerror or exc}") from exc
    try:
        raw = read_capped(file, cap)
    except (NotRegularFile, ValueError) as exc:  # not a regular file, or grew past the cap
        raise ParseError(str(exc)) from exc
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}") from exc
    text = clean_text(raw.decode("utf-8", errors="replace"))
    if not text.strip():
        raise ParseError("empty file")
    if suffix in (".txt", ".md", ".markdown") and looks_like_table_dump(text.split("\n")):
        return _table_documents(text, source, file.name)
    folder_digest = digest or digest_from_folder(file, root)
    if suffix in (".html", ".htm"):
        post = parse_html(text, fallback_title=file.stem)
        return [
            _build(
                title=post.title,
                date=post.date or date_from_filename(file.stem),
                url=post.url,
                sections=post.sections + ([RawSection("Footnotes", post.footnotes)] if post.footnotes else []),
                source=source,
                digest=digest,
                folder_digest=folder_digest,
                stem=file.stem,
            )
        ]
    if suffix in (".md", ".markdown"):
        lines, source_url = _source_line(text)
        title, sections = parse_markdown("\n".join(lines), file.stem)
        urls = find_urls(text[:2000])
        return [
            _build(
                title=title,
                date=find_date(text[:300]) or date_from_filename(file.stem),
                url=source_url,
                display_url=urls[0] if urls and not source_url else "",
                sections=sections,
                source=source,
                digest=digest,
                folder_digest=folder_digest,
                stem=file.stem,
            )
        ]
    return [_plain_document(text, source=source, digest=digest, folder_digest=folder_digest, stem=file.stem)]


def _check_size(file: Path, cap: int) -> None:
    """Refuse non-regular files (a FIFO would block forever) and files over ``cap`` bytes, from stat alone."""
    try:
        size = regular_size(file)
    except NotRegularFile as exc:
        raise ParseError(str(exc)) from exc
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}") from exc
    if size > cap:
        raise ParseError(f"file too large ({size} bytes, limit {cap})")


def _table_documents(text: str, source: str, name: str) -> list[Document]:
    """Abstract documents from a table dump's (arXiv ID, abstract) rows, or a ParseError."""
    rows = table_rows(text.split("\n"))
    if not rows:
        raise ParseError("looks like a table dump, not a digest post (no arxiv_id | abstract rows)")
    docs = list(documents_from_rows(rows, source, name))
    if not docs:
        raise ParseError("looks like a table dump, not a digest post (no valid abstract rows)")
    log.info("%s: read a table dump as %d abstract(s)", name, len(docs))
    return docs


def _source_line(text: str) -> tuple[list[str], str]:
    """The text's lines without a ``source <url>`` line, and that URL ("" when absent)."""
    kept, url = [], ""
    for line in text.split("\n"):
        m = SOURCE_LINE.match(line)
        if m and not url:
            url = m.group(1)
            continue
        kept.append(line)
    return kept, url


def _plain_document(text: str, *, source: str, digest: str | None, folder_digest: str, stem: str) -> Document:
    lines = text.split("\n")
    if looks_like_korean_notes(lines):
        first = next(ln for ln in lines if ln.strip())
        date = find_date(first)
        return _build(
            title=f"{folder_digest} {date}" if date else stem,
            date=date,
            url="",
            sections=split_items(lines),
            source=source,
            digest=digest,
            folder_digest=folder_digest,
            stem=stem,
        )
    kept, source_url = strip_chrome(lines)
    kept = drop_teaser(kept)
    body = [ln for ln in kept if ln.strip()]
    if not body:
        raise ParseError("no text after removing page chrome")
    title = clean_line(body[0])
    sections = split_sections(body[1:])
    date = find_date(title) or date_from_filename(stem) or find_month(title)
    urls = [u for u in find_urls("\n".join(body[:10])) if "arxiv.org" not in u]
    return _build(
        title=title,
        date=date,
        url=source_url,
        display_url=urls[0] if urls and not source_url else "",
        sections=sections,
        source=source,
        digest=digest,
        folder_digest=folder_digest,
        stem=stem,
    )


def _build(
    *,
    title: str,
    date: str,
    url: str,
    sections: list[RawSection],
    source: str,
    digest: str | None,
    folder_digest: str,
    stem: str,
    display_url: str = "",
    kind: str = "digest",
    extra: dict | None = None,
) -> Document:
    known = digest or (digest_for_url(url) if url else None)
    name = known or folder_digest
    doc_id = f"url:{canonical_url(url)}" if url else f"{slugify(name)}/{slugify(stem)}"
    built = [
        Section(heading=_heading_text(s.heading), text="\n\n".join(_tags_first(s.paragraphs)), arxiv_ids=find_arxiv_ids(s.heading + "\n" + "\n".join(s.paragraphs)))
        for s in sections
    ]
    if not built:
        raise ParseError("no text sections found")
    all_text = "\n".join(s.text for s in built)
    shown_url = url or display_url
    extra = dict(extra or {})
    if not known:
        extra["digest_guessed"] = True  # named after its folder: the ingest summary warns
    return Document(
        doc_id=doc_id,
        digest=name,
        title=title,
        date=date,
        url=shown_url,
        source=source,
        language=detect_language(all_text),
        content_hash=content_hash(PARSER_VERSION, name, title, date, shown_url, *(s.heading + "\x1e" + s.text for s in built)),
        sections=built,
        kind=kind,
        extra=extra,
    )


def _heading_text(heading: str) -> str:
    """The heading, or "" when it has no letters or digits (a stray "|" or "---")."""
    return heading if any(c.isalnum() for c in heading) else ""


_TAG_LINE = re.compile(r"^(#[^\s#]+\s*)+$")


def _tags_first(paragraphs: list[str]) -> list[str]:
    """Move ``#tag`` lines to the front, so they join the first chunk instead of ending up alone."""
    tags = [p for p in paragraphs if _TAG_LINE.match(p.strip())]
    return tags + [p for p in paragraphs if not _TAG_LINE.match(p.strip())] if tags else paragraphs


def document_from_html(
    html: str,
    *,
    source: str,
    digest: str,
    url: str = "",
    title: str = "",
    date: str = "",
    extra: dict | None = None,
) -> Document:
    """Build a document from a post's HTML (a feed entry's content or Substack ``body_html``).

    Args:
        html: The post HTML (whole page or body fragment).
        source: Where it came from (a URL).
        digest: The digest name.
        url: Canonical URL of the post, if known (wins over the HTML's own).
        title: Title, if known (wins over the HTML's own).
        date: ISO date, if known.
        extra: Extra metadata to keep (for example ``{"paid": True}``).
    """
    post = parse_html(html, fallback_title=title)
    sections = post.sections + ([RawSection("Footnotes", post.footnotes)] if post.footnotes else [])
    return _build(
        title=title or post.title,
        date=date or post.date,
        url=url or post.url,
        sections=sections,
        source=source,
        digest=digest,
        folder_digest=digest,
        stem=slugify(title or post.title or source),
        extra=extra,
    )


def abstract_documents(path: Path, source: str) -> Iterator[Document]:
    """One document per abstract row; rows with an invalid arXiv ID are logged and skipped."""
    yield from documents_from_rows(iter_rows(path), source, path.name)


def documents_from_rows(rows: Iterable[dict], source: str, name: str) -> Iterator[Document]:
    """One abstract document per row with ``arxiv_id`` and ``abstract`` (optional ``title``, ``published``).

    Args:
        rows: Rows from an abstract dataset or a table dump.
        source: Where they were read from (stored on each document).
        name: The file name, for log messages.
    """
    for row in rows:
        doc = _abstract_document(row, source, name)
        if doc is not None:
            yield doc


def _abstract_document(row: dict, source: str, name: str) -> Document | None:
    raw_id = str(row.get("arxiv_id") or "").strip()
    abstract = clean_line(str(row.get("abstract") or ""))
    try:
        arxiv_id = parse_arxiv_id(raw_id)
    except InvalidArxivId:
        log.warning("%s: skipped a row with an invalid arXiv ID %r", name, raw_id[:40])
        return None
    if not abstract:
        log.warning("%s: skipped %s, which has no abstract", name, arxiv_id)
        return None
    title = clean_line(str(row.get("title") or ""))
    date = find_date(str(row.get("published") or row.get("date") or ""))
    heading = title or f"arXiv:{arxiv_id}"
    return Document(
        doc_id=f"arxiv:{arxiv_id}",
        digest="arXiv",
        title=heading,
        date=date,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        source=source,
        language=detect_language(abstract),
        content_hash=content_hash(PARSER_VERSION, "abstract", arxiv_id, title, date, abstract),
        sections=[Section(heading=heading, text=abstract, arxiv_ids=[arxiv_id])],
        kind="abstract",
        extra={"paper_title": title} if title else {},
    )
