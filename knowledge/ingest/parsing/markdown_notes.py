"""Markdown posts and paper notes.

Two shapes: posts with ``#`` headings (one section per heading), and the paper-note
vault's one-paper notes (an arXiv link, an italic ``*Title* (authors)`` line, a
``> abstract`` quote, commentary and ``#tags``), which become one section headed
by the paper title.
"""

from __future__ import annotations

import re

from knowledge.ingest.parsing.plaintext import RawSection

_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_ITALIC_TITLE = re.compile(r"^\*{1,2}(?P<title>[^*]{3,400})\*{1,2}\s*(?:\((?P<authors>[^)]*)\))?\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_VAULT_NAME = re.compile(r"^\d{6}\s+")


def _inline(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: f"{m[1]} ({m[2]})" if "arxiv.org" in m[2] else m[1], text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    if text.startswith(">"):
        text = text.lstrip("> ").strip()
    return text.strip()


def title_from_stem(stem: str) -> str:
    """The title in a vault file name ("230926 Zero Bubble Pipeline Parallelism" -> the title)."""
    return _VAULT_NAME.sub("", stem).strip() or stem


def parse_markdown(text: str, stem: str) -> tuple[str, list[RawSection]]:
    """Split markdown into (title, sections).

    Args:
        text: The markdown source.
        stem: The file name without suffix, used for the title when the text has none.
    """
    text = _FRONT_MATTER.sub("", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    headings = [(i, _HEADING.match(ln)) for i, ln in enumerate(lines) if _HEADING.match(ln)]
    if headings:
        return _by_headings(lines, stem)
    return _paper_note(lines, stem)


def _by_headings(lines: list[str], stem: str) -> tuple[str, list[RawSection]]:
    title = ""
    sections = [RawSection("", [])]
    for line in lines:
        m = _HEADING.match(line)
        if m and not line.lstrip().startswith("#" * 5):
            heading = _inline(m[2])
            if len(m[1]) == 1 and not title:
                title = heading
                continue
            sections.append(RawSection(heading, []))
        elif line.strip():
            sections[-1].paragraphs.append(_inline(line.strip()))
    return title or title_from_stem(stem), [s for s in sections if s.paragraphs]


def _paper_note(lines: list[str], stem: str) -> tuple[str, list[RawSection]]:
    title = ""
    paragraphs: list[str] = []
    for line in lines:
        raw = line.strip()
        if not raw:
            continue
        m = _ITALIC_TITLE.match(raw)
        if m and not title:
            title = " ".join(m["title"].split())
            if m["authors"]:
                paragraphs.append(f"({m['authors'].strip()})")
            continue
        paragraphs.append(_inline(raw))
    title = title or title_from_stem(stem)
    return title, [RawSection(title, paragraphs)] if paragraphs else []
