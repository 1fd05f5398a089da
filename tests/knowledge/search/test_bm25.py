"""knowledge.search.bm25: the chunk-by-term weight matrix, saved and loaded by fingerprint."""

from __future__ import annotations

from knowledge.search.bm25 import BM25Matrix


def test_rare_terms_weigh_more_and_a_saved_matrix_loads_only_for_its_fingerprint(tmp_path):
    m = BM25Matrix.build([("a", "router collapse router"), ("b", "router adapters"), ("c", "adapters tiny")])
    scores = m.scores(["collapse"])
    assert scores is not None and scores.argmax() == m.ids.index("a") and scores[m.ids.index("b")] == 0
    assert m.document_frequency("router") == 2 and m.scores(["unseen"]) is None
    m.save(tmp_path, "fp1")
    assert BM25Matrix.load(tmp_path, "other") is None
    loaded = BM25Matrix.load(tmp_path, "fp1")
    assert loaded is not None and loaded.ids == m.ids and (loaded.scores(["collapse"]) == scores).all()
