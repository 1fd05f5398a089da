"""Ranking the dense and lexical candidates together: a linear score with fitted weights.

Every candidate of a question (see :class:`knowledge.search.retrieval.Hit`) is described by
a few non-negative features where more means more likely relevant: its cosine similarity,
its reciprocal ranks on the dense and on the lexical side (as in reciprocal-rank fusion),
how much of the question's weighted vocabulary its section and its heading contain, whether
it opens its section, and its BM25 score relative to the question's best. Its score is the
weighted sum.

The weights are fitted by ``python -m bench.quality --fit-fusion`` on the calibration half
of the questions generated from the archive (:mod:`knowledge.evaluation.generated`):
listwise, a softmax over each question's candidates pushed toward the ones from the
expected document, with the weights kept non-negative (so more evidence never ranks a
candidate lower, and the score stays a positive number whose ratios mean the same at any
scale: :func:`knowledge.search.answers.select` compares citations by ratio). They are stored
in ``fusion.json`` beside this module; without it, the hand-set weights of the first
version (:data:`DEFAULT`) apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from knowledge.search.retrieval import Hit

FUSION_FILE = Path(__file__).with_name("fusion.json")
#: The constant of reciprocal-rank fusion: a candidate at rank r scores K / (K + r).
RRF_K = 30
FEATURES = (
    "dense",  # cosine similarity to the question (negative ones count as 0)
    "dense_rank",  # K / (K + rank among the candidates by cosine)
    "lexical_rank",  # K / (K + rank by BM25, ties and non-matches by cosine)
    "coverage",  # share of the question's weighted vocabulary in the candidate's section
    "heading",  # the same share in the section's heading
    "first_part",  # 1 for the section's first chunk
    "bm25",  # BM25 score / the question's best BM25 score
    "lexical_only_rank",  # lexical_rank, for candidates with any BM25 score (else 0)
)


@dataclass(slots=True)
class Fusion:
    """The weights of the fused score.

    Attributes:
        weights: Feature name -> non-negative weight (missing features weigh 0).
        notes: Where the weights came from (set, sizes, measured recall).
    """

    weights: dict[str, float]
    notes: dict = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        """The weights in :data:`FEATURES` order."""
        return np.asarray([float(self.weights.get(name, 0.0)) for name in FEATURES], dtype=np.float64)

    def score(self, hits: list[Hit]) -> None:
        """Set each hit's ``score``."""
        if not hits:
            return
        for hit, value in zip(hits, features(hits) @ self.vector(), strict=True):
            hit.score = float(value)

    def save(self, path: Path = FUSION_FILE) -> None:
        """Write the weights as JSON."""
        data = {"features": list(FEATURES), "weights": {k: round(v, 6) for k, v in self.weights.items()}, "notes": self.notes}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> Fusion:
        """The stored weights (:data:`DEFAULT` when the file is missing or names unknown features)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            weights = {str(k): float(v) for k, v in dict(data["weights"]).items()}
            if not set(weights) <= set(FEATURES) or any(v < 0 for v in weights.values()):
                raise ValueError("fusion weights for other features")
            return cls(weights, dict(data.get("notes", {})))
        except (OSError, ValueError, TypeError, KeyError):
            return DEFAULT


#: The first version's hand-set formula: reciprocal-rank fusion (each side 1/2) nudged by
#: coverage, heading, cosine and a section's opening chunk.
DEFAULT = Fusion(
    {"dense": 0.2, "dense_rank": 0.5, "lexical_rank": 0.5, "coverage": 0.25, "heading": 0.15, "first_part": 0.03},
    {"source": "built-in default (hand-set)"},
)


def features(hits: list[Hit]) -> np.ndarray:
    """The candidates' features, one row per hit in :data:`FEATURES` order."""
    n = len(hits)
    dense = np.asarray([h.dense for h in hits], dtype=np.float64)
    bm25 = np.asarray([h.bm25 for h in hits], dtype=np.float64)
    dense_rank = np.empty(n)
    dense_rank[np.argsort(-dense, kind="stable")] = np.arange(n)
    lexical_rank = np.empty(n)
    lexical_rank[np.lexsort((-dense, -bm25))] = np.arange(n)  # by BM25, then by cosine
    best_bm25 = float(bm25.max()) if n else 0.0
    lexical = RRF_K / (RRF_K + lexical_rank)
    return np.stack(
        [
            np.maximum(dense, 0.0),
            RRF_K / (RRF_K + dense_rank),
            lexical,
            np.asarray([h.coverage for h in hits], dtype=np.float64),
            np.asarray([h.heading_match for h in hits], dtype=np.float64),
            np.asarray([1.0 if int(h.meta.get("part", 0)) == 0 else 0.0 for h in hits]),
            bm25 / best_bm25 if best_bm25 > 0 else np.zeros(n),
            np.where(bm25 > 0, lexical, 0.0),
        ],
        axis=1,
    )


def fit(lists: list[tuple[np.ndarray, np.ndarray]], *, l2: float = 1.0, question_weights: list[float] | None = None) -> dict[str, float]:
    """Fit non-negative weights listwise.

    Args:
        lists: Per question, its candidates' features (:func:`features`) and 0/1 labels (1:
            from a document that answers it). Questions with no relevant candidate are skipped.
        l2: Ridge penalty on the weights.
        question_weights: How much each question counts (default: equally); e.g. so that every
            kind of question counts as much as another, however many there are of it.

    Returns:
        Feature name -> weight, scaled so that the weights sum to the default's sum.
    """
    from scipy.optimize import minimize

    counts = question_weights or [1.0] * len(lists)
    usable = [(x, y / y.sum(), c) for (x, y), c in zip(lists, counts, strict=True) if y.sum() > 0 and c > 0]
    if not usable:
        raise ValueError("no question has a relevant candidate")
    n = sum(c for _, _, c in usable)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = 0.0, np.zeros_like(w)
        for x, target, c in usable:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            value -= c * float(np.sum(target * np.log(p + 1e-12)))
            grad -= c * (x.T @ (target - p))
        return value / n + l2 * float(w @ w) / n, grad / n + 2 * l2 * w / n

    start = np.full(len(FEATURES), 0.1)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * len(FEATURES))
    w = np.maximum(result.x, 0.0)
    total = float(w.sum()) or 1.0
    scale = sum(DEFAULT.weights.values()) / total
    return {name: float(v * scale) for name, v in zip(FEATURES, w, strict=True)}
