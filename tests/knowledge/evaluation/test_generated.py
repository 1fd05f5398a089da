"""Questions generated from the index: positives, held-out negatives, halves, judging."""

from __future__ import annotations

from knowledge.evaluation.generated import (
    cross_document_questions,
    half_of,
    held_out_questions,
    positives,
)
from knowledge.evaluation.judging import GeneratedReport, ask_all
from knowledge.models import Document, Section


def _held_out(doc_id: str, title: str, text: str, ids: list[str] | None = None) -> Document:
    return Document(doc_id, "Vault", title, "2024-01-01", "", f"/held/{doc_id}.md", "en", doc_id, [Section(title, text, ids or [])])


UNCOVERED = _held_out(
    "held/glacier", "Glacierformer: Frozen Attention for Ice-Core Dating",
    "Glacierformer dates ice cores by attending over frozen isotope sequences. The authors report a 40-year error "
    "on Antarctic cores, well below the previous stratigraphy baseline, and release the drilling logs.",
)
COVERED = _held_out(
    "held/lantern", "Lantern again", "A second note on the rolling attention window model that reads very long documents "
    "with a recurrent memory and beats larger models on long-document question answering.", ["2403.05678"],
)


def test_positives_come_from_indexed_sections_in_both_halves(fixture_kb):
    qs = positives(fixture_kb, max_questions=40)
    assert qs and all(not q.negative for q in qs)
    assert {q.doc_id for q in qs} <= set(fixture_kb._records)
    assert {q.half for q in qs} <= {"calibration", "report"}
    assert all(q.half == half_of(q.doc_id) for q in qs)
    assert len({q.kind for q in qs}) >= 3
    assert positives(fixture_kb, max_questions=40) == qs  # seeded: the same set every run


def test_held_out_documents_give_negatives_and_paraphrases(fixture_kb):
    qs = held_out_questions(fixture_kb, [UNCOVERED, COVERED], max_negatives=5, max_paraphrases=5)
    kinds = {q.doc_id: q for q in qs}
    assert kinds["held/glacier"].negative
    assert not kinds["held/lantern"].negative and kinds["held/lantern"].kind == "paraphrase"
    assert kinds["held/lantern"].arxiv_ids == ["2403.05678"]


def test_judging_counts_the_expected_document_or_its_paper(fixture_kb):
    qs = positives(fixture_kb, max_questions=12) + held_out_questions(fixture_kb, [UNCOVERED, COVERED], max_negatives=5, max_paraphrases=5)
    results = ask_all(fixture_kb, qs)
    report = GeneratedReport(results)
    data = report.to_json()
    assert data["positives"] + data["negatives"] == len(qs)
    assert report.recall_at5() >= 0.5
    glacier = next(r for r in results if r.question.doc_id == "held/glacier")
    assert not glacier.correct and glacier.confidence != "answer"


def test_cross_document_questions_are_asked_without_their_source(fixture_kb):
    qs = cross_document_questions(fixture_kb, max_questions=10)
    lantern = [q for q in qs if q.arxiv_ids == ["2403.05678"]]  # an abstract and a digest note both cover it
    assert lantern, qs
    for q in qs:
        assert q.kind == "cross" and not q.negative and q.doc_id == ""
        assert len(q.exclude) == 1 and q.exclude[0] in fixture_kb._records
        assert q.half == half_of(q.exclude[0])
    assert cross_document_questions(fixture_kb, max_questions=10) == qs  # seeded
    q = lantern[0]
    answer = fixture_kb.ask(q.question, exclude_docs=q.exclude)
    cited = answer.citations + answer.more
    assert cited and all(c.doc_id not in q.exclude for c in cited)
    (result,) = ask_all(fixture_kb, [q])
    assert result.hit_rank is not None  # the other document about the paper answers it
