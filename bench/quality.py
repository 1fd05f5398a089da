"""Answer quality on questions generated from the archive, at sample and at large scale.

    python -m bench.quality                 # report (uses calibration.json as it is)
    python -m bench.quality --calibrate     # fit the "found" model on the calibration half, then report
    python -m bench.quality --fit-fusion --calibrate   # fit the ranking's weights first, then the "found" model

Indexes (built once, cached under ``bench/.cache/quality/``):

* ``sample``: ``../shared/archive``;
* ``large``: the sample archive plus ``../shared/archive-large`` without a held-out tenth of
  its notes (chosen by a hash of the file's path), whose questions are the near-domain
  negatives.

For each scale it generates known-item positives and held-out negatives
(:mod:`knowledge.evaluation.generated`), asks them in hybrid, dense-only and lexical-only modes,
and prints recall@5 by kind and the precision/recall of ``found`` on the report half.
``--calibrate`` fits :mod:`knowledge.search.confidence` on the calibration half of both scales and
writes ``knowledge/search/calibration.json``. ``--fit-fusion`` first fits the weights of the fused
ranking (:mod:`knowledge.search.fusion`) on the calibration half's positives and writes
``knowledge/search/fusion.json``; the questions are then asked with the new weights (the "found"
model depends on the ranking: recalibrate with it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from bench.common import CACHE, DEFAULT_ARCHIVE, DEFAULT_LARGE_ARCHIVE, offline_env, setup_logging

log = logging.getLogger(__name__)

HOLD_OUT_MOD = 10
#: Precision the "answer" cut-off must reach on the calibration half.
PRECISION_TARGET = 0.96
#: Share of the calibration negatives below the "related" cut-off (shown nothing).
RELATED_NEGATIVE_QUANTILE = 0.25


def split_large(root: Path) -> tuple[list[Path], list[Path]]:
    """The notes of the large archive to index, and the held-out tenth."""
    keep, held = [], []
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        rel = p.relative_to(root).as_posix()
        (held if int(hashlib.sha1(rel.encode()).hexdigest(), 16) % HOLD_OUT_MOD == 0 else keep).append(p)
    return keep, held


def open_index(name: str, inputs: list[Path], data_dir: Path, *, ingest: bool = True):  # noqa: ANN201 - KnowledgeBase
    """The knowledge base of one scale, ingesting what is missing (unchanged input embeds nothing)."""
    from knowledge.config import Settings
    from knowledge.facade import KnowledgeBase

    kb = KnowledgeBase(Settings.from_env({"DIGESTBOT_DATA_DIR": str(data_dir)}, dotenv=False))
    if not ingest:
        return kb
    log.info("%s: ingesting %d inputs into %s (unchanged ones are skipped)", name, len(inputs), data_dir)
    report = kb.ingest([str(p) for p in inputs])
    log.info("%s: %d added, %d unchanged, %d failed, %d duplicates", name, report.added, report.unchanged, report.failed,
             len(report.duplicates))
    return kb


def held_out_docs(paths: list[Path], root: Path) -> list:
    from knowledge.ingest.parsing import ParseError, parse_file

    docs = []
    for p in paths:
        try:
            docs.extend(parse_file(p, root))
        except ParseError:
            continue
    return docs


def kind_balance(kinds: list[str]) -> list[float]:
    """A weight per question so that every kind of question counts as much as another.

    Known-item questions far outnumber paraphrases and cross-document ones; unweighted, a fit
    would learn only what the easy kinds look like.
    """
    per_kind = Counter(kinds)
    return [1.0 / per_kind[k] for k in kinds]


def relevel(results: list, calibration) -> None:  # noqa: ANN001
    """Recompute each result's confidence from its stored evidence with another calibration."""
    from knowledge.search.confidence import Evidence

    for r in results:
        r.confidence = calibration.level(Evidence(**r.evidence)) if r.evidence else "none"


def calibrate(results: list, *, balance_kinds: bool = True) -> object:
    """Fit the logistic model on these results and choose the two cut-offs.

    With ``balance_kinds`` every kind of question (title, paraphrase, cross, negatives ...)
    weighs the same in the fit, so the many easy known-item questions do not teach the model
    that only a lexical echo of the archive is an answer.
    """
    from knowledge.search.confidence import Calibration, Evidence, fit

    used = [r for r in results if r.evidence]
    rows = [Evidence(**r.evidence) for r in used]
    labels = [int(r.correct) for r in used]
    sample_weights = kind_balance([r.question.kind for r in used]) if balance_kinds else None
    weights, bias, mean, scale = fit(rows, labels, sample_weights=sample_weights)
    model = Calibration(weights, bias, mean, scale, answer=0.5, related=0.3)
    probs = sorted(((model.probability(e), y) for e, y in zip(rows, labels, strict=True)), reverse=True)

    def cut(target: float) -> float:
        best, hits = 1.0, 0
        for n, (p, y) in enumerate(probs, 1):
            hits += y
            if hits / n >= target:
                best = p
        return best

    model.answer = cut(PRECISION_TARGET)
    # below "related" nothing is shown: the question looks less related than most near-domain
    # negatives do (generated questions find their answers far more easily than people's
    # paraphrases, so a cut-off set on the positives would hide real answers)
    negatives = sorted(p for p, y in probs if not y)
    model.related = min(model.answer, negatives[int(len(negatives) * RELATED_NEGATIVE_QUANTILE)] if negatives else 0.0)
    model.notes = {
        "source": "python -m bench.quality --calibrate: generated questions, calibration half, sample + large",
        "questions": len(rows),
        "positives_correct": sum(labels),
        "precision_target": PRECISION_TARGET,
        "kinds_balanced": balance_kinds,
    }
    return model


def fit_fusion(sets: list[tuple[object, list]]) -> object:
    """Fit the fused ranking's weights on the calibration half's positives of every scale."""
    from knowledge.evaluation.judging import answers_it
    from knowledge.search.fusion import Fusion, features, fit
    from knowledge.search.records import arxiv_ids_of

    lists, kinds = [], []
    for kb, questions in sets:
        for q in questions:
            if q.negative or q.half != "calibration":
                continue
            hits, _ = kb.retriever.search(q.question, mode="hybrid", allowed_docs=set(kb._records).difference(q.exclude))
            if hits:
                labels = [1.0 if answers_it(q, h.doc_id, arxiv_ids_of(h.meta)) else 0.0 for h in hits]
                lists.append((features(hits), np.asarray(labels)))
                kinds.append(q.kind)
    fusion = Fusion(fit(lists, question_weights=kind_balance(kinds)), {
        "source": "python -m bench.quality --fit-fusion: generated positives, calibration half, "
        + " + ".join(kb.settings.data_dir.name for kb, _ in sets),
        "questions": len(lists),
        "with_a_relevant_candidate": sum(1 for _, y in lists if y.sum() > 0),
        "by_kind": dict(sorted(Counter(kinds).items())),
        "weighting": "each kind of question counts equally",
    })
    fusion.save()
    return fusion


def report_lines(name: str, by_mode: dict[str, list]) -> list[str]:
    from knowledge.evaluation.generated import KINDS
    from knowledge.evaluation.judging import GeneratedReport

    lines = [f"## {name}", "", "| mode | half | positives | negatives | recall@5 | " + " | ".join(f"r@5 {k}" for k in KINDS)
             + " | found precision | found recall | negatives found |", "|" + "---|" * (9 + len(KINDS) - 2)]
    for mode, results in by_mode.items():
        for half in ("calibration", "report"):
            rep = GeneratedReport([r for r in results if r.question.half == half])
            data = rep.to_json()
            by_kind = data["recall@5_by_kind"]  # a kind with no question in this half: "–", not 0
            kinds = " | ".join(f"{by_kind[k]:.2f}" if k in by_kind else "–" for k in KINDS)
            lines.append(f"| {mode} | {half} | {data['positives']} | {data['negatives']} | {data['recall@5']:.2f} | {kinds} | "
                         f"{data['found_precision']:.2f} | {data['found_recall']:.2f} | {data['negatives_found']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--large-archive", type=Path, default=DEFAULT_LARGE_ARCHIVE)
    parser.add_argument("--scales", default="sample,large", help="comma-separated: sample, large")
    parser.add_argument("--cache", type=Path, default=CACHE / "quality", help="where the indexes are kept")
    parser.add_argument("--positives", type=int, default=300)
    parser.add_argument("--negatives", type=int, default=300)
    parser.add_argument("--baselines", action="store_true", help="also dense-only and lexical-only")
    parser.add_argument("--unbalanced", action="store_true", help="with --calibrate: every question weighs the same (not every kind)")
    parser.add_argument("--calibrate", action="store_true", help="fit the found model and write knowledge/search/calibration.json")
    parser.add_argument("--fit-fusion", action="store_true",
                        help="fit the fused ranking's weights and write knowledge/search/fusion.json (before asking)")
    parser.add_argument("--json", type=Path, help="also write every result as JSON here")
    parser.add_argument("--no-ingest", action="store_true", help="use the cached indexes as they are")
    args = parser.parse_args(argv)
    offline_env()
    setup_logging()
    from knowledge.embeddings import set_threads
    from knowledge.evaluation.generated import (
        cross_document_questions,
        held_out_questions,
        positives,
    )
    from knowledge.evaluation.judging import ask_all
    from knowledge.search.confidence import Calibration

    set_threads(1)
    keep, held = split_large(args.large_archive)
    held_docs = held_out_docs(held, args.large_archive)
    scales = {"sample": [args.archive], "large": [args.archive, *keep]}
    opened = []
    for name in [s.strip() for s in args.scales.split(",") if s.strip()]:
        kb = open_index(name, scales[name], args.cache / name, ingest=not args.no_ingest)
        questions = positives(kb, max_questions=args.positives) + held_out_questions(
            kb, held_docs, max_negatives=args.negatives, max_paraphrases=args.positives // 3
        ) + cross_document_questions(kb, max_questions=args.positives // 3)
        log.info("%s: %d questions", name, len(questions))
        opened.append((name, kb, questions))
    if args.fit_fusion:
        fusion = fit_fusion([(kb, questions) for _, kb, questions in opened])
        print("wrote knowledge/search/fusion.json: " + ", ".join(f"{k} {v:.3f}" for k, v in fusion.weights.items()), file=sys.stderr)
        for _, kb, _ in opened:
            kb.retriever.fusion = fusion
    all_results: dict[str, dict[str, list]] = {}
    for name, kb, questions in opened:
        modes = ["hybrid", "dense", "lexical"] if args.baselines else ["hybrid"]
        all_results[name] = {mode: ask_all(kb, questions, mode=mode) for mode in modes}
        kb.close()
    calibration = Calibration.load()
    if args.calibrate:
        pool = [r for res in all_results.values() for r in res["hybrid"] if r.question.half == "calibration"]
        calibration = calibrate(pool, balance_kinds=not args.unbalanced)
        calibration.save()
        print(f"wrote knowledge/search/calibration.json: answer >= {calibration.answer:.3f}, related >= {calibration.related:.3f}", file=sys.stderr)
    for res in all_results.values():
        for mode_results in res.values():
            relevel(mode_results, calibration)
    lines = []
    for name, by_mode in all_results.items():
        lines += report_lines(name, by_mode) + [""]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({n: {m: [dict(q=r.question.to_json(), confidence=r.confidence, rank=r.hit_rank,
                                                       excerpt_hit=r.excerpt_hit, evidence=r.evidence) for r in rs]
                                              for m, rs in bm.items()} for n, bm in all_results.items()},
                                         ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
