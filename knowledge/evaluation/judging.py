"""Judging generated questions: was the expected document cited, and how sure was the answer?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from knowledge.evaluation.generated import KINDS, GeneratedQuestion
from knowledge.search.tokenize import tokenize

if TYPE_CHECKING:
    from knowledge.facade import KnowledgeBase


@dataclass(slots=True)
class GeneratedResult:
    """How one generated question fared."""

    question: GeneratedQuestion
    confidence: str
    hit_rank: int | None  # rank of the first citation of the expected document (None: not cited)
    excerpt_hit: bool  # for fragments: the cited excerpt holds most of the source sentence
    evidence: dict[str, float]
    took_ms: float

    @property
    def correct(self) -> bool:
        """A positive whose expected document is cited in the top 5."""
        return not self.question.negative and self.hit_rank is not None and self.hit_rank <= 5


def _overlap(excerpt: str, source: str) -> float:
    want = set(tokenize(source))
    return len(want & set(tokenize(excerpt))) / len(want) if want else 0.0


def answers_it(question: GeneratedQuestion, doc_id: str, arxiv_ids: list[str]) -> bool:
    """Whether a document (by its ID and arXiv IDs) is an expected answer to a generated question."""
    return doc_id == question.doc_id or bool(question.arxiv_ids and set(question.arxiv_ids) & set(arxiv_ids))


def ask_all(kb: KnowledgeBase, questions: list[GeneratedQuestion], *, mode: str = "hybrid") -> list[GeneratedResult]:
    """Ask every question and judge the answer against the document it came from."""
    out = []
    for q in questions:
        answer = kb.ask(q.question, mode=mode, exclude_docs=q.exclude)
        cited = answer.citations or answer.more[:5]  # "none" shows nothing: judge the ranking behind it
        rank, excerpt_hit = None, False
        for c in cited:
            if answers_it(q, c.doc_id, c.arxiv_ids):
                rank = c.rank if answer.citations else cited.index(c) + 1
                excerpt_hit = bool(q.source_text) and _overlap(c.excerpt, q.source_text) >= 0.5
                break
        out.append(GeneratedResult(q, answer.confidence, rank, excerpt_hit, answer.evidence, answer.took_ms))
    return out


@dataclass(slots=True)
class GeneratedReport:
    """Recall@5 and the precision/recall of "found" on one set of generated questions."""

    results: list[GeneratedResult]

    def _pos(self, kind: str | None = None) -> list[GeneratedResult]:
        return [r for r in self.results if not r.question.negative and (kind is None or r.question.kind == kind)]

    def recall_at5(self, kind: str | None = None) -> float:
        pos = self._pos(kind)
        return sum(r.correct for r in pos) / len(pos) if pos else 0.0

    def found_precision(self) -> float:
        found = [r for r in self.results if r.confidence == "answer"]
        return sum(r.correct for r in found) / len(found) if found else 0.0

    def found_recall(self) -> float:
        pos = self._pos()
        return sum(r.correct and r.confidence == "answer" for r in pos) / len(pos) if pos else 0.0

    def negatives_found(self) -> tuple[int, int]:
        neg = [r for r in self.results if r.question.negative]
        return sum(r.confidence == "answer" for r in neg), len(neg)

    def to_json(self) -> dict[str, Any]:
        nf, nt = self.negatives_found()
        return {
            "positives": len(self._pos()),
            "negatives": nt,
            "recall@5": round(self.recall_at5(), 3),
            "recall@5_by_kind": {k: round(self.recall_at5(k), 3) for k in KINDS if self._pos(k)},
            "found_precision": round(self.found_precision(), 3),
            "found_recall": round(self.found_recall(), 3),
            "negatives_found": f"{nf}/{nt}",
        }
