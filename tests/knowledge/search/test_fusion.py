"""The fused ranking's score: its features, its stored weights and the listwise fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.search.fusion import DEFAULT, FEATURES, RRF_K, Fusion, features, fit
from knowledge.search.retrieval import Hit


def hit(cid: str, dense: float, bm25: float = 0.0, coverage: float = 0.0, heading: float = 0.0, part: int = 1) -> Hit:
    return Hit(cid, f"text {cid}", {"doc_id": cid, "part": part}, dense=dense, bm25=bm25, coverage=coverage, heading_match=heading)


def test_the_default_is_the_first_versions_formula() -> None:
    hits = [hit("a", 0.6, 0.0, 0.2), hit("b", 0.4, 7.0, 0.9, 0.5, part=0), hit("c", -0.1, 3.0), hit("d", 0.5, 3.0)]
    DEFAULT.score(hits)
    # by cosine: a, d, b, c; by BM25 (ties by cosine): b, d, c, a
    dense_rank = {"a": 0, "d": 1, "b": 2, "c": 3}
    lexical_rank = {"b": 0, "d": 1, "c": 2, "a": 3}
    for h in hits:
        rrf = 1 / (RRF_K + dense_rank[h.chunk_id]) + 1 / (RRF_K + lexical_rank[h.chunk_id])
        expected = rrf * RRF_K / 2 + 0.25 * h.coverage + 0.15 * h.heading_match + 0.2 * max(h.dense, 0) + (0.03 if h.meta["part"] == 0 else 0)
        assert h.score == pytest.approx(expected)


def test_features_are_non_negative_and_relative_to_the_question() -> None:
    x = features([hit("a", -0.2, 0.0), hit("b", 0.3, 4.0), hit("c", 0.1, 2.0)])
    assert x.shape == (3, len(FEATURES)) and (x >= 0).all()
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert list(col["bm25"]) == [0.0, 1.0, 0.5]
    assert col["lexical_only_rank"][0] == 0.0 and col["lexical_only_rank"][1] == 1.0
    assert col["dense"][0] == 0.0


def test_fit_learns_which_feature_marks_the_answer() -> None:
    rng = np.random.default_rng(3)
    lists = []
    for _ in range(60):
        x = rng.random((12, len(FEATURES)))
        y = np.zeros(12)
        answer = int(np.argmax(x[:, FEATURES.index("coverage")]))  # the answer is the best-covered candidate
        y[answer] = 1.0
        lists.append((x, y))
    lists.append((rng.random((5, len(FEATURES))), np.zeros(5)))  # no relevant candidate: skipped
    weights = fit(lists)
    assert all(v >= 0 for v in weights.values())
    assert max(weights, key=weights.get) == "coverage"
    assert sum(weights.values()) == pytest.approx(sum(DEFAULT.weights.values()))
    with pytest.raises(ValueError):
        fit([(np.ones((3, len(FEATURES))), np.zeros(3))])


def test_saved_weights_load_back_and_bad_files_fall_back_to_the_default(tmp_path) -> None:
    path = tmp_path / "fusion.json"
    Fusion({"dense": 1.0, "coverage": 2.0}, {"source": "test"}).save(path)
    loaded = Fusion.load(path)
    assert loaded.weights == {"dense": 1.0, "coverage": 2.0} and loaded.notes["source"] == "test"
    path.write_text(json.dumps({"weights": {"shoe size": 1.0}}))
    assert Fusion.load(path) is DEFAULT
    path.write_text(json.dumps({"weights": {"dense": -1.0}}))
    assert Fusion.load(path) is DEFAULT
    assert Fusion.load(tmp_path / "missing.json") is DEFAULT


def test_question_weights_decide_which_kind_of_question_the_fit_follows() -> None:
    rng = np.random.default_rng(5)
    by_coverage, by_cosine = [], []
    for marker, into in (("coverage", by_coverage), ("dense", by_cosine)):
        for _ in range(40):
            x = rng.random((10, len(FEATURES)))
            y = np.zeros(10)
            y[int(np.argmax(x[:, FEATURES.index(marker)]))] = 1.0
            into.append((x, y))
    lists = by_coverage + by_cosine
    cosine_first = fit(lists, question_weights=[0.05] * 40 + [1.0] * 40)
    coverage_first = fit(lists, question_weights=[1.0] * 40 + [0.05] * 40)
    assert cosine_first["dense"] > cosine_first["coverage"]
    assert coverage_first["coverage"] > coverage_first["dense"]
