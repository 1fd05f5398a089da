"""How sure an answer is: "answer", "related" or "none", from evidence, calibrated on data.

Each question's retrieval leaves evidence (:class:`Evidence`): the best cosine similarity,
how much of the question's weighted vocabulary the best sections contain, how much of the
question the index knows at all, whether the dense and lexical sides agree, and so on. A
small logistic model turns that into the probability that the top citations answer the
question. It is fitted by ``python -m bench.quality --calibrate`` on questions generated
from the archive itself (known-item questions and held-out near-domain negatives; see
:mod:`knowledge.evaluation.generated`), and its weights and the two cut-offs are stored in
``calibration.json`` beside this module:

* ``answer``: the probability at which generated questions reach the precision target;
* ``related``: a lower one, below which nothing is shown.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.search.retrieval import Hit, QueryTerms

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
LEVELS = ("answer", "related", "none")


@dataclass(slots=True)
class Evidence:
    """What retrieval found for one question, as numbers a calibrated model can weigh."""

    dense: float = 0.0  # best cosine similarity among the top sections
    dense_first: float = 0.0  # cosine of the top-ranked section
    coverage: float = 0.0  # share of the question's weight in the top section
    coverage_best: float = 0.0  # best share among the top sections
    heading: float = 0.0  # share of the question's weight in the top section's heading
    known: float = 0.0  # share of the question's weight the index knows at all
    margin: float = 0.0  # top cosine minus the mean cosine of every candidate
    agree: float = 0.0  # 1 when the dense and lexical sides rank the same section first
    lead: float = 0.0  # how far the top section's score is ahead of the second's (relative)
    rare: float = 0.0  # share of the weight of the question's two rarest known terms the top section contains

    def vector(self) -> list[float]:
        """The features in a fixed order (see :data:`FEATURES`)."""
        return [float(getattr(self, name)) for name in FEATURES]

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


FEATURES = tuple(f for f in Evidence.__dataclass_fields__)


def gather(sections: list[Hit], hits: list[Hit], terms: QueryTerms) -> Evidence:
    """Evidence from the best hit of each section (best first) and every candidate.

    Every feature is one where more means more likely answered; the fitted weights are kept
    non-negative (see :func:`fit`), so the model cannot learn how generated questions happen
    to be worded (their length, their language) instead of what the index holds.

    Args:
        sections: The best hit of each section, in ranked order.
        hits: Every candidate chunk.
        terms: The question's weighted terms.
    """
    if not sections:
        return Evidence(known=terms.known)
    top = sections[:5]
    first = sections[0]
    by_dense = max(hits, key=lambda h: h.dense)
    by_lexical = max(hits, key=lambda h: (h.bm25, h.dense))
    mean_dense = sum(h.dense for h in hits) / len(hits)
    return Evidence(
        dense=max(h.dense for h in top),
        dense_first=first.dense,
        coverage=first.coverage,
        coverage_best=max(h.coverage for h in top),
        heading=first.heading_match,
        known=terms.known,
        margin=max(h.dense for h in top) - mean_dense,
        agree=1.0 if by_dense.section_key == by_lexical.section_key == first.section_key else 0.0,
        lead=(first.score - sections[1].score) / first.score if len(sections) > 1 and first.score > 0 else 1.0,
        rare=_rare_share(first, terms),
    )


def _rare_share(hit: Hit, terms: QueryTerms) -> float:
    """Share of the weight of the question's two rarest known terms that the hit's section contains.

    A word the index has never seen (an everyday word of a paraphrase, a Korean ending) cannot
    be matched anywhere, so it says nothing about this section: ``known`` weighs it.
    """
    rarest = sorted((t for t in terms.tokens if t not in terms.unknown), key=lambda t: -terms.weights[t])[:2]
    total = sum(terms.weights[t] for t in rarest)
    return sum(terms.weights[t] for t in rarest if t in hit.matched) / total if total else 0.0


@dataclass(slots=True)
class Calibration:
    """A logistic model over :class:`Evidence` with two cut-offs.

    Attributes:
        weights: One weight per feature (on standardised features).
        bias: The intercept.
        mean: Feature means used to standardise.
        scale: Feature standard deviations used to standardise.
        answer: Probability at or above which the answer is confident.
        related: Probability at or above which the matches are shown as possibly related.
        notes: Where the numbers came from (set, sizes, measured precision/recall).
    """

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    answer: float
    related: float
    notes: dict = field(default_factory=dict)

    def probability(self, evidence: Evidence) -> float:
        """The calibrated probability that the top citations answer the question."""
        z = self.bias
        for w, x, m, s in zip(self.weights, evidence.vector(), self.mean, self.scale, strict=True):
            z += w * (x - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def level(self, evidence: Evidence) -> str:
        """"answer", "related" or "none"."""
        p = self.probability(evidence)
        if p >= self.answer:
            return "answer"
        return "related" if p >= self.related else "none"

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        """Write the calibration as JSON."""
        data = asdict(self)
        data["features"] = list(FEATURES)
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        """The stored calibration (the default one when the file is missing or from other features)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if tuple(data.pop("features", ())) != FEATURES:
                raise ValueError("calibration made for other features")
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return DEFAULT


#: Used only until ``bench.quality --calibrate`` has written calibration.json: cosine alone.
DEFAULT = Calibration(
    weights=[6.0 if name == "dense" else 0.0 for name in FEATURES],
    bias=0.0,
    mean=[0.45 if name == "dense" else 0.0 for name in FEATURES],
    scale=[1.0] * len(FEATURES),
    answer=0.6,
    related=0.3,
    notes={"source": "built-in default (uncalibrated)"},
)


def fit(rows: list[Evidence], labels: list[int], *, l2: float = 1.0,
        sample_weights: list[float] | None = None) -> tuple[list[float], float, list[float], list[float]]:
    """Fit the logistic model: returns ``(weights, bias, mean, scale)``.

    Args:
        rows: Evidence of each calibration question.
        labels: 1 where the top citations answer it (the expected document is cited), else 0.
        l2: Ridge penalty on the standardised weights.
        sample_weights: How much each question counts (default: equally); normalised to mean 1.
    """
    import numpy as np
    from scipy.optimize import minimize

    x = np.asarray([r.vector() for r in rows], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    sw = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, dtype=np.float64)
    sw = sw / sw.mean()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        logits = z @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(logits, -40, 40)))
        eps = 1e-12
        value = -np.mean(sw * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))) + l2 * np.sum(w * w) / len(y)
        grad_logits = sw * (p - y) / len(y)
        grad = np.concatenate([z.T @ grad_logits + 2 * l2 * w / len(y), [grad_logits.sum()]])
        return float(value), grad

    bounds = [(0.0, None)] * z.shape[1] + [(None, None)]  # more evidence never lowers the probability
    result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    params = result.x
    return params[:-1].tolist(), float(params[-1]), mean.tolist(), scale.tolist()
