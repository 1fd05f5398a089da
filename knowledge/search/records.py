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
