"""Answer-quality evaluation over a question set (``digestbot eval``).

The question file is JSON Lines: ``question``, ``expect`` (a list of
``{"source": path relative to the archive, "arxiv_id": optional}``, any of which
counts), ``phrases`` (one should appear in a cited excerpt from that source), and
``negative`` (the archive has no answer: the bot should say "not found").
Nothing is ingested: the current index is measured.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.facade import KnowledgeBase
from knowledge.models import Citation


@dataclass(slots=True)
class EvalQuestion:
    """One question of the set."""

    question: str
    expect: list[dict[str, str]]
    phrases: list[str]
    negative: bool = False


@dataclass(slots=True)
class QuestionResult:
    """How one question fared."""

    question: str
    negative: bool
    found: bool
    rank: int | None
    source_rank: int | None
    took_ms: float

    @property
    def ok(self) -> bool:
        return (not self.found) if self.negative else self.rank is not None and self.rank <= 3


@dataclass(slots=True)
class EvalResult:
    """Per-question results and the overall numbers for one retrieval mode."""

    mode: str
    results: list[QuestionResult] = field(default_factory=list)

    @property
    def positives(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.negative]

    def _rate(self, pred) -> float:  # noqa: ANN001
        pos = self.positives
        return sum(1 for r in pos if pred(r)) / len(pos) if pos else 0.0

    @property
    def hit1(self) -> float:
        return self._rate(lambda r: r.rank == 1)

    @property
    def hit3(self) -> float:
        return self._rate(lambda r: r.rank is not None and r.rank <= 3)

    @property
    def source5(self) -> float:
        return self._rate(lambda r: r.source_rank is not None and r.source_rank <= 5)

    @property
    def found_rate(self) -> float:
        return self._rate(lambda r: r.found)

    @property
    def mrr(self) -> float:
        pos = self.positives
        return sum(1.0 / r.rank for r in pos if r.rank) / len(pos) if pos else 0.0

    @property
    def negatives_total(self) -> int:
        return sum(1 for r in self.results if r.negative)

    @property
    def negatives_ok(self) -> int:
        return sum(1 for r in self.results if r.negative and not r.found)

    def latency(self, q: float) -> float:
        times = sorted(r.took_ms for r in self.results)
        if not times:
            return 0.0
        if len(times) == 1:
            return times[0]
        return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "hit@1": round(self.hit1, 3),
            "hit@3": round(self.hit3, 3),
            "mrr": round(self.mrr, 3),
            "source@5": round(self.source5, 3),
            "found_on_positives": round(self.found_rate, 3),
            "negatives_not_found": f"{self.negatives_ok}/{self.negatives_total}",
            "p50_ms": round(self.latency(50), 1),
            "p95_ms": round(self.latency(95), 1),
            "questions": [
                {"question": r.question, "negative": r.negative, "found": r.found, "rank": r.rank, "source_rank": r.source_rank, "took_ms": round(r.took_ms, 1)}
                for r in self.results
            ],
        }


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a question set (JSON Lines)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(EvalQuestion(row["question"], row.get("expect", []), row.get("phrases", []), bool(row.get("negative", False))))
    return out


def _matches_source(c: Citation, expect: list[dict[str, str]]) -> bool:
    for e in expect:
        source = e.get("source", "")
        if source and not c.source.replace("\\", "/").endswith(source):
            continue
        if e.get("arxiv_id") and e["arxiv_id"].split("v")[0] not in [a.split("v")[0] for a in c.arxiv_ids]:
            continue
        return True
    return False


def judge(q: EvalQuestion, citations: list[Citation]) -> tuple[int | None, int | None]:
    """Rank of the first citation from an expected source with an expected phrase, and of the first from the source."""
    rank = source_rank = None
    phrases = [p.lower() for p in q.phrases]
    for c in citations:
        if not _matches_source(c, q.expect):
            continue
        source_rank = source_rank or c.rank
        if not phrases or any(p in c.excerpt.lower() for p in phrases):
            rank = c.rank
            break
    return rank, source_rank


def run_eval(kb: KnowledgeBase, questions: list[EvalQuestion], *, mode: str = "hybrid", k: int = 5) -> EvalResult:
    """Ask every question in one mode and judge the answers."""
    kb.ask("warm up", mode=mode)
    result = EvalResult(mode=mode)
    for q in questions:
        answer = kb.ask(q.question, k=k, mode=mode)
        rank, source_rank = judge(q, answer.citations)
        result.results.append(QuestionResult(q.question, q.negative, answer.found, rank, source_rank, answer.took_ms))
    return result


def format_table(results: dict[str, EvalResult], *, per_question: bool = True) -> str:
    """A plain-text table: per question (hybrid), then overall per mode side by side."""
    lines: list[str] = []
    main = results.get("hybrid") or next(iter(results.values()))
    if per_question:
        lines.append(f"{'question':60} {'found':5} {'rank':>4} {'src':>4} {'ms':>7}" + "".join(f" {m[:5]:>5}" for m in results if m != main.mode))
        others = {m: r for m, r in results.items() if m != main.mode}
        for i, r in enumerate(main.results):
            q = r.question if len(r.question) <= 58 else r.question[:57] + "…"
            tag = "neg" if r.negative else ""
            extra = "".join(f" {str(o.results[i].rank or '-'):>5}" for o in others.values())
            lines.append(f"{q:60} {('yes' if r.found else 'no'):5} {str(r.rank or '-'):>4} {str(r.source_rank or '-'):>4} {r.took_ms:7.1f}{extra} {tag}")
        lines.append("")
    lines.append(f"{'mode':8} {'hit@1':>6} {'hit@3':>6} {'MRR':>6} {'src@5':>6} {'found':>6} {'neg ok':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for mode, r in results.items():
        lines.append(
            f"{mode:8} {r.hit1:6.2f} {r.hit3:6.2f} {r.mrr:6.2f} {r.source5:6.2f} {r.found_rate:6.2f} "
            f"{f'{r.negatives_ok}/{r.negatives_total}':>7} {r.latency(50):7.1f} {r.latency(95):7.1f}"
        )
    return "\n".join(lines)
