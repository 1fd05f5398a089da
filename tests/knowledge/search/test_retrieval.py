"""knowledge.search.retrieval: hits know their section; question terms weigh what the index knows."""

from __future__ import annotations

import pytest

from knowledge.search.retrieval import Hit, QueryTerms


def test_a_hit_names_its_document_and_section():
    h = Hit("d#2:1", "text", {"doc_id": "d", "section_index": 2, "part": 1})
    assert h.doc_id == "d" and h.section_key == ("d", 2)


def test_query_terms_match_alternative_spellings_at_their_similarity():
    terms = QueryTerms(tokens=["미스트랄", "router"], weights={"미스트랄": 3.0, "router": 1.0},
                       alternatives={"미스트랄": [("mistral", 0.9)]})
    assert terms.total == 4.0
    assert terms.search_tokens == ["미스트랄", "router", "mistral"]
    assert terms.matched_weight("router", {"router", "adapters"}) == 1.0
    assert terms.matched_weight("미스트랄", {"mistral"}) == pytest.approx(2.7)
    assert terms.matched_weight("미스트랄", {"router"}) == 0


def test_weight_in_is_the_sum_of_each_tokens_matched_weight() -> None:
    from knowledge.search.retrieval import QueryTerms

    terms = QueryTerms(tokens=["mistral", "미스트랄", "7b", "window"], weights={"mistral": 2.0, "미스트랄": 3.0, "7b": 1.5, "window": 0.5},
                       alternatives={"미스트랄": [("mistral", 0.9), ("mistrial", 0.6)]})
    for text in ({"mistral", "7b"}, {"mistrial"}, {"window", "미스트랄"}, set(), {"other"}):
        assert terms.weight_in(text) == pytest.approx(sum(terms.matched_weight(t, text) for t in terms.tokens))
