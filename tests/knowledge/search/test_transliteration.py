"""Korean spellings of Latin names are matched to the index's own vocabulary."""

from __future__ import annotations

import pytest

from knowledge.search.transliteration import Transliterator, hangul_key, latin_key

VOCAB = ["lantern", "llama", "lemma", "mistral", "stable", "solar", "digest", "gradient", "model", "window", "pebbletun"]


@pytest.mark.parametrize(
    ("hangul", "latin"),
    [("라마", "llama"), ("미스트랄", "mistral"), ("스테이블", "stable"), ("솔라", "solar"), ("다이제스트", "digest"),
     ("랜턴", "lantern"), ("그래디언트", "gradient"), ("모델", "model")],
)
def test_a_korean_spelling_finds_the_latin_token(hangul, latin):
    spellings = Transliterator(VOCAB).spellings(hangul)
    assert spellings and spellings[0].token == latin
    assert hangul_key(hangul) == latin_key(latin)


def test_the_closest_spelling_wins_among_tokens_that_sound_alike():
    spellings = Transliterator(VOCAB).spellings("라마")
    assert [s.token for s in spellings][:1] == ["llama"]
    assert all(0 < s.similarity <= 1 for s in spellings)


@pytest.mark.parametrize("word", ["김치찌개", "여행", "연말정산", "가", "abc", ""])
def test_native_words_and_non_words_find_nothing(word):
    assert Transliterator(VOCAB).spellings(word) == []


def test_a_korean_question_finds_the_latin_spelling_in_the_index(fixture_kb):
    # the fixture archive spells the model "Lantern-7B"; the question writes it in Hangul
    answer = fixture_kb.ask("랜턴 7B는 긴 문서를 어떻게 읽어?")
    assert answer.citations, answer.answer
    assert "Lantern" in answer.citations[0].section
