"""knowledge.evaluation.questions: question files read, answers judged by source and phrase."""

from __future__ import annotations

import json

from knowledge.evaluation.questions import EvalResult, QuestionResult, judge, load_questions
from knowledge.models import Citation


def citation(rank: int, source: str, excerpt: str) -> Citation:
    return Citation(rank, "D", "t", "", "s", "", source, excerpt, 1.0, ["2305.14314"])


def test_questions_load_and_are_judged_by_source_then_phrase(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "QLoRA?", "expect": [{"source": "roundup.txt"}], "phrases": ["less RAM"]}) + "\n\n"
                    + json.dumps({"question": "AlphaFold?", "negative": True}) + "\n", encoding="utf-8")
    q, neg = load_questions(path)
    assert q.question == "QLoRA?" and neg.negative and not q.negative
    cs = [citation(1, "other.txt", "less RAM"), citation(2, "a/roundup.txt", "LoRA"), citation(3, "a/roundup.txt", "takes less RAM")]
    assert judge(q, cs) == (3, 2)  # the phrase at rank 3, the source first at rank 2
    result = EvalResult(mode="hybrid", results=[QuestionResult("QLoRA?", False, True, 3, 2, 10.0)])
    assert result.hit1 == 0 and result.hit3 == 1
