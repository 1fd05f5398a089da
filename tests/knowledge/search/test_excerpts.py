"""Excerpts are chosen by the question: meaning and terms, clean text, new sentences for follow-ups."""

from __future__ import annotations

from knowledge.search.answers import best_excerpt, shown_sentences, text_quality
from knowledge.search.retrieval import QueryTerms

SECTION = (
    "The authors attach tiny adapters to a frozen model. They train on three public datasets.\n\n"
    "The evaluation leans on benchmarks the base model already does well on. The code is short."
)


def _terms(*tokens: str) -> QueryTerms:
    return QueryTerms(tokens=list(tokens), weights=dict.fromkeys(tokens, 1.0))


def test_the_sentences_that_answer_are_chosen_not_the_opening():
    excerpt = best_excerpt(SECTION, _terms("evalu", "benchmark"))
    assert excerpt.startswith("The evaluation leans")


def test_a_more_similar_chunk_wins_when_the_words_say_nothing():
    opening, later = "An unrelated opening about logistics.", "Adapters are trained on frozen weights."
    assert best_excerpt([opening, later], _terms("nothing"), similarities=[0.1, 0.7]) == later


def test_a_follow_up_prefers_sentences_not_shown_yet():
    terms = _terms("adapt", "evalu")
    first = best_excerpt(SECTION, terms)
    again = best_excerpt(SECTION, terms, shown=shown_sentences([first]))
    assert again and again != first
    assert not set(shown_sentences([again])) & set(shown_sentences([first]))


def test_text_broken_in_extraction_scores_lower():
    assert text_quality("It beats the baseline by on MMLU with ( ) fewer steps.") < text_quality("It beats the baseline on MMLU.")
    assert text_quality("We propose a simple method.") == 1.0


def test_a_papers_byline_is_never_the_excerpt():
    # a note opens with the paper's title and authors (cut mid-list by the sentence splitter),
    # which repeat the question's words; the commentary after it is what answers
    note = ("Pebble Adapters for Frozen Models (Ann Lee, Bo Kim, Cy Park, Di Wu, Ed Y. Moss, Fay Tan)\n\n"
            "The pebble adapters train in low precision on frozen models, and the runs used small GPUs.")
    terms = _terms("pebbl", "adapt", "frozen", "model", "gpus")
    assert best_excerpt(note, terms).startswith("The pebble adapters train")
