"""knowledge.ingest.chunking: sections packed into chunks that fit the window, with citation metadata."""

from __future__ import annotations

from knowledge.ingest.chunking import chunk_document
from knowledge.models import Document, Section
from knowledge.search.records import arxiv_ids_of


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def test_long_sections_are_split_never_truncated_and_carry_their_metadata():
    body = "\n\n".join(f"Paragraph {n} says PebbleTune adapters work on benchmark {n} again and again." for n in range(30))
    doc = Document("d1", "Weekly", "Issue 1", "2024-03-17", "https://e.org/1", "x.txt", "en", "h",
                   [Section("PebbleTune: Tiny Adapters", body, ["2403.05678", "2305.14314"])])
    chunks = chunk_document(doc, words, 64, target_tokens=40)
    assert len(chunks) > 1
    assert all(len(c.text.split()) <= 64 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == body.split()  # every word kept, in order
    assert [c.metadata["part"] for c in chunks] == list(range(len(chunks)))
    assert all(arxiv_ids_of(c.metadata) == ["2403.05678", "2305.14314"] for c in chunks)
    assert {c.metadata["section"] for c in chunks} == {"PebbleTune: Tiny Adapters"}
