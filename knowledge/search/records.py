"""What the store hands back: typed rows instead of tuples, and one decoder for stored metadata.

Chroma metadata values are scalars, so a chunk's (and a document record's) arXiv IDs are
stored comma-joined: :func:`join_arxiv_ids` writes them and :func:`arxiv_ids_of` reads
them, everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple


class StoredChunk(NamedTuple):
    """One chunk as stored: its ID, text, citation metadata and (when asked for) embedding."""

    chunk_id: str
    text: str
    meta: dict[str, Any]
    embedding: Any = None

    @property
    def doc_id(self) -> str:
        return str(self.meta.get("doc_id", ""))

    @property
    def section(self) -> str:
        return str(self.meta.get("section", ""))

    @property
    def order(self) -> tuple[int, int]:
        """Position in its document: (section index, part)."""
        return int(self.meta.get("section_index", 0)), int(self.meta.get("part", 0))

    @property
    def arxiv_ids(self) -> list[str]:
        return arxiv_ids_of(self.meta)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def search_heading(meta: dict[str, Any]) -> str:
    """The heading a chunk is searched under: its section's, or for an untitled opening the issue's.

    The opening of an issue before its first heading (a sponsor line, "this week ...") is
    about the issue itself, so it is found by the issue's title and month ("the May 2023
    roundup"), as a person remembers it. Citations still show the section's own heading.
    """
    heading = str(meta.get("section", ""))
    if heading or int(meta.get("section_index", 0) or 0) != 0:
        return heading
    title, date = str(meta.get("title", "")), str(meta.get("date", ""))
    parts = date.split("-")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and 1 <= int(parts[1]) <= 12:
        title = f"{title} ({_MONTHS[int(parts[1]) - 1]} {parts[0]})"
    return title.strip()


def lexical_text(meta: dict[str, Any], text: str) -> str:
    """What the lexical index reads for a chunk: the heading it is searched under, then its text."""
    return f"{search_heading(meta)}\n{text}"


def arxiv_ids_of(meta: dict[str, Any]) -> list[str]:
    """The arXiv IDs a chunk's or record's metadata names (stored comma-joined)."""
    return [a for a in str(meta.get("arxiv_ids", "")).split(",") if a]


def join_arxiv_ids(ids: Iterable[str]) -> str:
    """arXiv IDs as stored in metadata: comma-joined, in order, without repeats."""
    return ",".join(dict.fromkeys(a for a in ids if a))


@dataclass(slots=True)
class DocRecord:
    """What the store knows about one complete document."""

    doc_id: str
    content_hash: str
    digest: str
    title: str
    date: str
    url: str
    source: str
    kind: str
    language: str
    chunks: int
    arxiv_ids: list[str]
    paper_title: str
    ingested_at: float
    paid: bool = False
    sections: int = 0


def record_from_meta(doc_id: str, meta: dict[str, Any]) -> DocRecord:
    return DocRecord(
        doc_id=doc_id,
        content_hash=str(meta.get("content_hash", "")),
        digest=str(meta.get("digest", "")),
        title=str(meta.get("title", "")),
        date=str(meta.get("date", "")),
        url=str(meta.get("url", "")),
        source=str(meta.get("source", "")),
        kind=str(meta.get("kind", "digest")),
        language=str(meta.get("language", "")),
        chunks=int(meta.get("chunks", 0)),
        arxiv_ids=arxiv_ids_of(meta),
        paper_title=str(meta.get("paper_title", "")),
        ingested_at=float(meta.get("ingested_at", 0.0)),
        paid=bool(meta.get("paid", False)),
        sections=int(meta.get("sections", 0)),
    )
