"""The calibrated "found" model: monotone, three levels, stored as JSON."""

from __future__ import annotations

import random

import pytest

from knowledge.search.confidence import DEFAULT, FEATURES, Calibration, Evidence, fit


def _evidence(good: bool, rng: random.Random) -> Evidence:
    base = 0.6 if good else 0.3
    return Evidence(dense=base + rng.uniform(-0.15, 0.15), dense_first=base, coverage=base + rng.uniform(-0.2, 0.2),
                    coverage_best=base, heading=rng.random(), known=rng.random(), margin=0.2, agree=float(good))


def test_fit_separates_and_never_gives_a_negative_weight():
    rng = random.Random(3)
    rows = [_evidence(i % 2 == 0, rng) for i in range(200)]
    labels = [int(i % 2 == 0) for i in range(200)]
    weights, bias, mean, scale = fit(rows, labels)
    assert len(weights) == len(FEATURES)
    assert all(w >= 0 for w in weights)  # more evidence never lowers the probability
    model = Calibration(weights, bias, mean, scale, answer=0.7, related=0.2)
    assert model.probability(_evidence(True, rng)) > model.probability(_evidence(False, rng))


def test_weighting_a_rare_kind_of_question_teaches_the_model_its_evidence():
    # many "easy" questions that coverage separates, a few "hard" ones that only the cosine does
    rng = random.Random(5)
    rows, labels, kinds = [], [], []
    for i in range(400):
        good = i % 2 == 0
        rows.append(Evidence(dense=0.5 + rng.uniform(-0.1, 0.1), coverage=(0.9 if good else 0.2) + rng.uniform(-0.1, 0.1)))
        labels.append(int(good))
        kinds.append("easy")
    for i in range(20):
        good = i % 2 == 0
        rows.append(Evidence(dense=(0.7 if good else 0.4) + rng.uniform(-0.05, 0.05), coverage=0.2 + rng.uniform(-0.1, 0.1)))
        labels.append(int(good))
        kinds.append("hard")
    share = {k: kinds.count(k) for k in set(kinds)}
    plain, *_ = fit(rows, labels)
    balanced, *_ = fit(rows, labels, sample_weights=[1.0 / share[k] for k in kinds])
    dense = FEATURES.index("dense")
    assert balanced[dense] > 1.5 * plain[dense]
    assert fit(rows, labels, sample_weights=[3.0] * len(rows))[0] == pytest.approx(plain)  # uniform weights change nothing


def test_levels_and_round_trip(tmp_path):
    model = Calibration([1.0] + [0.0] * (len(FEATURES) - 1), 0.0, [0.5] * len(FEATURES), [0.1] * len(FEATURES), answer=0.8, related=0.3)
    assert model.level(Evidence(dense=0.9)) == "answer"
    assert model.level(Evidence(dense=0.47)) == "related"
    assert model.level(Evidence(dense=0.1)) == "none"
    path = tmp_path / "calibration.json"
    model.save(path)
    assert Calibration.load(path) == model


def test_a_missing_or_foreign_calibration_falls_back_to_the_default(tmp_path):
    assert Calibration.load(tmp_path / "missing.json") is DEFAULT
    (tmp_path / "old.json").write_text('{"features": ["something", "else"], "weights": []}')
    assert Calibration.load(tmp_path / "old.json") is DEFAULT


def test_the_shipped_calibration_is_loaded_and_says_where_it_came_from():
    shipped = Calibration.load()
    assert shipped is not DEFAULT
    assert 0 < shipped.related <= shipped.answer < 1
    assert "bench.quality" in shipped.notes.get("source", "")


def test_words_the_index_never_saw_do_not_hide_a_matching_section():
    from knowledge.search.confidence import gather
    from knowledge.search.retrieval import Hit, QueryTerms

    # "ultrafastbert" and "neurons" are in the index; "percentage" and "actually" never are,
    # so they weigh most, yet no section can contain them
    weights = {"percentage": 5.0, "actually": 5.0, "ultrafastbert": 4.0, "neurons": 3.0, "layer": 1.0}
    terms = QueryTerms(tokens=list(weights), weights=weights, known=8.0 / 18.0, unknown=frozenset({"percentage", "actually"}))
    top = Hit("a#0:0", "text", {"doc_id": "a"}, dense=0.6, coverage=8.0 / 18.0, score=1.0, matched=["ultrafastbert", "neurons", "layer"])
    other = Hit("b#0:0", "text", {"doc_id": "b"}, dense=0.4, coverage=1.0 / 18.0, score=0.5, matched=["layer"])
    evidence = gather([top, other], [top, other], terms)
    assert evidence.rare == 1.0  # the two rarest words the index knows are both in the top section
    missing = Hit("c#0:0", "text", {"doc_id": "c"}, dense=0.6, coverage=1.0 / 18.0, score=1.0, matched=["layer"])
    assert gather([missing, other], [missing, other], terms).rare == 0.0
