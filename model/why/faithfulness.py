"""How faithful is a heatmap? Deletion and insertion curves (Petsiuk et al., RISE, 2018).

Deletion: remove pixels in the order the map ranks them (most important
first) and watch the class probability fall; a faithful map makes it fall
fast (low AUC). Insertion: start from a blank input and add pixels in that
order; a faithful map makes the probability rise fast (high AUC). At 28x28
every step of both curves, and of a random-order baseline, fits in one
batched prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

STEPS = 28  # points on each curve (every 28 pixels)
RANDOM_ORDERS = 4


@dataclass(frozen=True)
class Faithfulness:
    deletion_auc: float  # lower is better
    insertion_auc: float  # higher is better
    random_deletion_auc: float
    random_insertion_auc: float

    @property
    def score(self) -> float:
        """Insertion minus deletion AUC, relative to a random ranking: > 0 beats random."""
        return (self.insertion_auc - self.deletion_auc) - (
            self.random_insertion_auc - self.random_deletion_auc
        )


def _curves(x: np.ndarray, order: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for the deletion and insertion curves: each (steps + 1, 28, 28)."""
    flat = x.reshape(-1)
    counts = np.linspace(0, flat.size, steps + 1).round().astype(int)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)  # rank[i]: position of pixel i in the ordering
    shown = rank[None, :] < counts[:, None]  # (steps + 1, 784): first k pixels in order
    deletion = np.where(shown, 0.0, flat[None, :])
    insertion = np.where(shown, flat[None, :], 0.0)
    return deletion.reshape(-1, 28, 28), insertion.reshape(-1, 28, 28)


def _auc(p: np.ndarray) -> float:
    return float(np.trapezoid(p, dx=1.0 / (len(p) - 1)))


def faithfulness(
    probabilities: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    heatmap: np.ndarray,
    label: int,
    steps: int = STEPS,
    seed: int = 0,
) -> Faithfulness:
    """Deletion/insertion AUCs of `heatmap` for class `label`, and of random rankings.

    probabilities: (N, 28, 28) -> (N, 10), one batched call (e.g. `Classifier.probabilities`).
    """
    x = np.asarray(x, np.float32).reshape(28, 28)
    rng = np.random.default_rng(seed)
    # Ties (e.g. zero heat) are broken randomly, not by pixel position.
    jitter = rng.random(784) * 1e-6
    orders = [np.argsort(-(np.asarray(heatmap, np.float64).reshape(-1) + jitter))]
    orders += [rng.permutation(784) for _ in range(RANDOM_ORDERS)]
    batches = [c for order in orders for c in _curves(x, order, steps)]
    p = probabilities(np.concatenate(batches).astype(np.float32))[:, label]
    p = p.reshape(len(orders), 2, steps + 1)
    aucs = np.array([[_auc(curve) for curve in pair] for pair in p])  # (orders, 2)
    return Faithfulness(
        float(aucs[0, 0]), float(aucs[0, 1]), float(aucs[1:, 0].mean()), float(aucs[1:, 1].mean())
    )
