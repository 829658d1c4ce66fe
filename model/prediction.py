"""An answer: what the model reads in one input, and whether to believe it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.judge.percent import format_probability  # noqa: F401  (its documented name)
from model.judge.verdict import Verdict

#: How many classes `Classifier.top` returns unless told.
TOP_K = 5


@dataclass(frozen=True)
class Prediction:
    """What the model reads in one image, and whether to believe it (see model/judge/verdict.py)."""

    label: int
    probability: float
    probabilities: np.ndarray  # (10,) float32, sums to 1
    class_name: str
    verdict: Verdict = "digit"  # "digit", "unsure" or "not_a_digit"
    ood_score: float = 0.0  # higher = less like the training data
    reason: str | None = None  # a sentence for a person; None for a plain answer

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "class_name": self.class_name,
            "probability": self.probability,
            "probabilities": [float(p) for p in self.probabilities],
            "verdict": self.verdict,
            "ood_score": round(self.ood_score, 4),
            "reason": self.reason,
        }

    def top(self, k: int = TOP_K, class_names: Sequence[str] | None = None) -> list[Ranked]:
        """The k most probable classes, most probable first (ties: lower index first)."""
        return top_k(self.probabilities, k, class_names)


@dataclass(frozen=True)
class Ranked:
    """One class of a top-k list."""

    label: int
    class_name: str
    probability: float

    def to_dict(self) -> dict:
        return {"label": self.label, "class_name": self.class_name, "probability": self.probability}


def top_k(
    probabilities: np.ndarray, k: int = TOP_K, class_names: Sequence[str] | None = None
) -> list[Ranked]:
    """(K,) probabilities -> the k most probable classes, most probable first."""
    p = np.asarray(probabilities, np.float32).reshape(-1)
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, not {k}")
    order = np.argsort(-p, kind="stable")[: min(k, len(p))]
    names = class_names if class_names is not None and len(class_names) == len(p) else None
    return [Ranked(int(i), names[i] if names else str(int(i)), float(p[i])) for i in order]
