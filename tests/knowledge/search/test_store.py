"""knowledge.search.store: typed rows back from Chroma, complete documents only as records."""

from __future__ import annotations

import numpy as np

from knowledge.ingest.chunking import chunk_document
from knowledge.models import Document, Section
from knowledge.search.records import StoredChunk, arxiv_ids_of, join_arxiv_ids
from knowledge.search.store import ChromaStore


def test_written_chunks_come_back_as_stored_chunks_with_their_record(tmp_path):
    store = ChromaStore(tmp_path, "test-model", 4)
    doc = Document("d1", "Weekly", "Issue 1", "2024-03-17", "", "x.txt", "en", "h1",
                   [Section("PebbleTune", "PebbleTune adapters.", ["2403.05678"]), Section("Other", "Routers collapse.", [])])
    chunks = chunk_document(doc, lambda texts: [len(t.split()) for t in texts], 64)
    vectors = np.eye(4, dtype=np.float32)[: len(chunks)]
    with store.write_lock():
        store.write_document(doc, chunks, vectors)
    rows = store.get_chunks(where={"doc_id": "d1"})
    assert all(isinstance(r, StoredChunk) for r in rows) and {r.doc_id for r in rows} == {"d1"}
    first = min(rows, key=lambda r: r.order)
    assert first.section == "PebbleTune" and first.arxiv_ids == ["2403.05678"] and first.embedding is None
    nearest = store.query(vectors[1], 1)
    assert nearest[0].chunk_id == chunks[1].chunk_id and nearest[0].embedding is not None
    record = store.get_records()["d1"]
    assert record.content_hash == "h1" and record.arxiv_ids == ["2403.05678"] and record.chunks == len(chunks)


def test_one_decoder_for_stored_arxiv_ids():
    assert join_arxiv_ids(["2403.05678", "", "2305.14314", "2403.05678"]) == "2403.05678,2305.14314"
    assert arxiv_ids_of({"arxiv_ids": "2403.05678,2305.14314"}) == ["2403.05678", "2305.14314"]
    assert arxiv_ids_of({}) == [] and arxiv_ids_of({"arxiv_ids": ""}) == []
