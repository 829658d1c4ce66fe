"""The trust score of a map: how it ranks pixels against maps that ignore the model.

Deletion/insertion (`model.why.faithfulness`) can be won by a map that ignores the
model; this score is relative to the input-only references, so one cannot win it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from model.judge.percent import format_probability as pct

#
# Deletion/insertion (`model.why.faithfulness`) can be won by a map that ignores the
# model: on MNIST, deleting the ink in any order kills the prediction, so the input image itself
# ("the ink map") scores +0.73, above every method. The trust score below is
# relative to the two input-only references, the ink map and its Sobel edges,
# and to random orders, so an input-only map cannot score above 0.
#
# Perturbation: zero deletion (a pixel is set to black, the digit's background).
# A blurred baseline is unusable at 28x28 (blurring the background adds ink, and a
# random map wins); zero deletion is what "remove this stroke" means on a digit.
# The curve covers the first quarter of the pixels (196 at 28x28, more than the ink
# of almost every digit), at every 4th pixel, so "pixels removed until the decision
# flips" is read off the same batched call.

#: The share of the pixels the deletion curve covers.
TRUST_FRACTION = 0.25
#: Curve points: pixels removed at each step are (H * W) * TRUST_FRACTION / TRUST_STEPS.
TRUST_STEPS = 49
#: Random pixel orders averaged for the random reference.
TRUST_RANDOM_ORDERS = 2
#: A map "beats" the best input-only reference when its score exceeds this (and is
#: "no better than the input itself" within +-this): a tenth of the gap to random.
TRUST_MARGIN = 0.1
#: Perturbed inputs per `probabilities` call when many inputs are scored at once (the
#: one-input trust of 5 orders x 50 points is a single call of 250).
DELETION_BATCH = 4096
#: Smallest gap between random and the reference used as the negative scale: where
#: random order hurts the answer about as much as the ink does (some clothes), the
#: ratio would otherwise explode.
TRUST_MIN_GAP = 0.05


@dataclass(frozen=True)
class Trust:
    """How faithful one map is on one input, against maps that ignore the model.

    AUCs: mean probability of the class while the top-ranked first quarter of the
    pixels is blacked out (lower: the map found what the model needs). Pixels to
    flip: how many pixels, removed in the map's order, change the decision (None:
    not within the curve).
    """

    deletion_auc: float
    ink_auc: float
    edges_auc: float
    random_auc: float
    pixels_to_flip: int | None
    ink_pixels_to_flip: int | None
    edges_pixels_to_flip: int | None
    random_pixels_to_flip: int | None
    max_pixels: int  # pixels the curve removes at most
    empty: bool = False
    #: `zero` (pixels set to black; references: ink and its edges) for digits, `mean`
    #: (pixels set to the image's mean colour; references: local contrast and edges) for
    #: photos, where black is not "nothing".
    perturbation: str = "zero"

    @property
    def reference_auc(self) -> float:
        """The better of the two input-only references."""
        return min(self.ink_auc, self.edges_auc)

    @property
    def score(self) -> float:
        """0: exactly as good as the better input-only reference; -1: as bad as random
        (or worse); above 0, the share of the reference's AUC the map removes (1: AUC 0).
        An input-only map can therefore never score above 0.
        """
        gap = max(self.random_auc - self.reference_auc, TRUST_MIN_GAP)
        if self.deletion_auc <= self.reference_auc:
            return (self.reference_auc - self.deletion_auc) / max(self.reference_auc, 1e-6)
        return max((self.reference_auc - self.deletion_auc) / gap, -1.0)

    @property
    def beats_ink(self) -> bool:
        """The raw comparison with the ink map (the contrast map, for photos), without the
        verdict's TRUST_MARGIN: what the benchmarks count ("beats the ink on 80 %")."""
        return self.deletion_auc < self.ink_auc

    @property
    def verdict(self) -> str:
        """A few words: how this map compares with maps that ignore the model."""
        if self.empty:
            return "empty map: nothing to check"
        if self.deletion_auc >= self.random_auc:
            return "no better than random"
        if self.score > TRUST_MARGIN:
            if self.ink_auc > self.edges_auc:
                return "beats the edge map"
            # (a photo model's first reference is the input's local contrast: it was called
            # "the ink map" there too, beside a sentence that said "contrast", a user test)
            return "beats the ink map" if self.perturbation == "zero" else "beats the contrast map"
        if self.score >= -TRUST_MARGIN:
            return "no better than the input itself"
        return "worse than the input itself"

    @property
    def sentence(self) -> str:
        """The verdict, with the numbers it is judged on (the class's mean probability as
        the map's top pixels go, against the reference it names and random), then how
        many pixels change the answer: a map can lower the probability sooner overall
        and still flip the answer later, so the flips never stand in for the verdict."""

        def n(v: int | None) -> str:
            return f"{v}" if v is not None else f"more than {self.max_pixels}"

        if self.empty:
            return "The map is empty, so there is nothing to check."
        own = "ink" if self.perturbation == "zero" else "contrast"
        by_ink = self.ink_auc <= self.edges_auc  # the reference the verdict compares with
        ref = own if by_ink else "edges"
        ref_auc, ref_flip = (
            (self.ink_auc, self.ink_pixels_to_flip)
            if by_ink
            else (self.edges_auc, self.edges_pixels_to_flip)
        )
        return (
            f"{self.verdict[0].upper()}{self.verdict[1:]}: with the pixels it ranks highest "
            f"removed, the answer's mean probability is {pct(self.deletion_auc)} (in the order "
            f"of the input's own {ref}: {pct(ref_auc)}; in random order: {pct(self.random_auc)}; "
            f"lower is better). The answer changes after {n(self.pixels_to_flip)} pixels "
            f"({ref}: {n(ref_flip)}; random: {n(self.random_pixels_to_flip)})."
        )

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "beats_ink": self.beats_ink,
            "sentence": self.sentence,
            "deletion_auc": round(self.deletion_auc, 4),
            "ink_auc": round(self.ink_auc, 4),
            "edges_auc": round(self.edges_auc, 4),
            "random_auc": round(self.random_auc, 4),
            "pixels_to_flip": self.pixels_to_flip,
            "ink_pixels_to_flip": self.ink_pixels_to_flip,
            "edges_pixels_to_flip": self.edges_pixels_to_flip,
            "random_pixels_to_flip": self.random_pixels_to_flip,
            "max_pixels": self.max_pixels,
            "perturbation": PERTURBATIONS[self.perturbation],
        }


#: What each perturbation does, in words.
PERTURBATIONS = {
    "zero": "zero deletion (pixels set to black)",
    "mean": "mean deletion (pixels set to the image's mean colour)",
}
#: Gaussian sigma of the blurred copy behind the photos' contrast reference, as a share of
#: the side.
BLUR_SIGMA_FRACTION = 0.05


def blurred(x: np.ndarray) -> np.ndarray:
    """x (N, H, W[, C]) -> the same, each image blurred (its colours kept, its detail gone)."""
    from scipy import ndimage

    x = np.asarray(x, np.float32)
    sigma = BLUR_SIGMA_FRACTION * max(x.shape[1], x.shape[2])
    sigmas = (0, sigma, sigma, 0) if x.ndim == 4 else (0, sigma, sigma)
    return ndimage.gaussian_filter(x, sigma=sigmas).astype(np.float32)


def mean_colour(x: np.ndarray) -> np.ndarray:
    """x (N, H, W[, C]) -> the same shape, each image filled with its own mean colour."""
    x = np.asarray(x, np.float32)
    return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape).astype(np.float32)


def trust_counts(hw: tuple[int, int]) -> np.ndarray:
    """Pixels removed at each point of the curve, 0 first."""
    top = int(round(hw[0] * hw[1] * TRUST_FRACTION))
    return np.unique(np.linspace(0, top, TRUST_STEPS + 1).round().astype(int))


def reference_maps(x: np.ndarray, seed: int = 0, perturbation: str = "zero") -> np.ndarray:
    """x (N, H, W[, C]) -> (N, 2 + TRUST_RANDOM_ORDERS, H, W): the input-only references
    and random maps.

    zero (digits): the ink itself, its Sobel edges. mean (photos, which have no ink): the
    local contrast |x - blurred x| (detail, wherever it is), and the Sobel edges of the
    brightness.
    """
    from scipy import ndimage

    x = np.asarray(x, np.float32)
    if perturbation == "mean":
        ink = np.abs(x - blurred(x))
        ink = ink.sum(-1) if x.ndim == 4 else ink  # (N, H, W)
        grey = x.mean(-1) if x.ndim == 4 else x
        edges = np.hypot(ndimage.sobel(grey, axis=1), ndimage.sobel(grey, axis=2))
        rng = np.random.default_rng(seed)
        rand = rng.random((len(ink), TRUST_RANDOM_ORDERS, *ink.shape[1:])).astype(np.float32)
        return np.concatenate([ink[:, None], edges[:, None], rand], axis=1)
    ink = x.sum(-1) if x.ndim == 4 else x  # (N, H, W)
    edges = np.hypot(ndimage.sobel(ink, axis=1), ndimage.sobel(ink, axis=2))
    rng = np.random.default_rng(seed)
    rand = rng.random((len(ink), TRUST_RANDOM_ORDERS, *ink.shape[1:])).astype(np.float32)
    return np.concatenate([ink[:, None], edges[:, None], rand], axis=1)


def deletion_probabilities(
    probabilities: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    maps: np.ndarray,
    seed: int = 0,
    fill: np.ndarray | None = None,
) -> np.ndarray:
    """Zero-deletion curves: x (N, H, W[, C]), maps (N, M, H, W) -> (N, M, S, K) probabilities.

    fill (N, H, W[, C]): removed pixels take fill's values instead of zero (mean deletion).

    Pixels are removed in the order each map ranks them (ties broken randomly, not
    by position); one input's curves run in one batched `probabilities` call, many
    inputs' in calls of about `DELETION_BATCH` images.
    """
    x = np.asarray(x, np.float32)
    n, m, h, w = maps.shape
    counts = trust_counts((h, w))
    jitter = np.random.default_rng(seed).random(h * w) * 1e-6
    per_input = m * len(counts)
    step = max(1, DELETION_BATCH // per_input)  # inputs per call: bounds the memory
    out = []
    for i in range(0, n, step):
        flat = x[i : i + step].reshape(-1, h * w, x[0].size // (h * w))  # (n_i, P, C)
        mi = maps[i : i + step].reshape(len(flat), m, h * w).astype(np.float64)
        order = np.argsort(-(mi + jitter), axis=-1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(h * w)[None, None], axis=-1)  # place in order
        removed = rank[:, :, None, :] < counts[None, None, :, None]  # (n_i, M, S, P)
        gone = 0.0 if fill is None else fill[i : i + step].reshape(flat.shape)[:, None, None]
        batch = np.where(removed[..., None], gone, flat[:, None, None]).astype(np.float32)
        probs = probabilities(batch.reshape(-1, *x.shape[1:]))
        out.append(probs.reshape(len(flat), m, len(counts), -1))
    return np.concatenate(out)


def _check_perturbation(perturbation: str) -> None:
    if perturbation not in PERTURBATIONS:
        raise ValueError(
            f"unknown perturbation {perturbation!r}; choose {', '.join(PERTURBATIONS)}"
        )


def trust_batch(
    probabilities: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    maps: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    perturbation: str = "zero",
) -> list[Trust]:
    """Trust of one map per input, in one batched call: x (N, H, W[, C]), maps (N, H, W).

    perturbation: `zero` (digits) or `mean` (photos), see `Trust.perturbation`.
    """
    _check_perturbation(perturbation)
    maps = np.asarray(maps, np.float32)
    x = np.asarray(x, np.float32)
    stacked = np.concatenate([maps[:, None], reference_maps(x, seed, perturbation)], axis=1)
    fill = mean_colour(x) if perturbation == "mean" else None
    probs = deletion_probabilities(probabilities, x, stacked, seed, fill)
    empty = maps.reshape(len(maps), -1).max(axis=1) <= 0
    found = trust_from_curves(probs, np.asarray(labels), trust_counts(maps.shape[1:]), empty)
    return [replace(t, perturbation=perturbation) for t in found]


def curve_stats(
    probs: np.ndarray, labels: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N, M, S, K) curves -> AUC (N, M) of the class probability, pixels to flip (N, M).

    AUC: trapezoid over the curve, x axis scaled to [0, 1]. Pixels to flip: pixels
    removed at the first point where the predicted class is no longer `labels`; -1: never.
    """
    p = np.take_along_axis(probs, labels[:, None, None, None], axis=-1)[..., 0]  # (N, M, S)
    auc = np.trapezoid(p, dx=1.0 / (len(counts) - 1), axis=-1)
    flipped = probs.argmax(axis=-1) != labels[:, None, None]  # (N, M, S)
    flips = np.where(flipped.any(axis=-1), counts[flipped.argmax(axis=-1)], -1)
    return auc, flips


def trust_from_curves(
    probs: np.ndarray, labels: np.ndarray, counts: np.ndarray, empty: np.ndarray
) -> list[Trust]:
    """Curves of [map, ink, edges, random...] (N, M, S, K) -> one Trust per input."""
    auc, flips = curve_stats(probs, labels, counts)

    def px(v: int) -> int | None:
        return None if v < 0 else int(v)

    def rand_flip(row: np.ndarray) -> int | None:
        # Median over the random orders; a never-flip counts as past the end.
        v = np.median(np.where(row < 0, counts[-1] + 1, row))
        return None if v > counts[-1] else int(round(v))

    return [
        Trust(
            deletion_auc=float(a[0]),
            ink_auc=float(a[1]),
            edges_auc=float(a[2]),
            random_auc=float(a[3:].mean()),
            pixels_to_flip=px(f[0]),
            ink_pixels_to_flip=px(f[1]),
            edges_pixels_to_flip=px(f[2]),
            random_pixels_to_flip=rand_flip(f[3:]),
            max_pixels=int(counts[-1]),
            empty=bool(e),
        )
        for a, f, e in zip(auc, flips, empty, strict=True)
    ]


def trust_maps(
    probabilities: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    heatmaps: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    perturbation: str = "zero",
) -> list[Trust]:
    """The trust of several (H, W) maps of ONE input x (H, W[, C]), in one batched call.

    heatmaps (M, H, W), labels (M,): the class each map explains. The input-only
    references and random orders are the same for every map, so their curves are
    computed once: two maps cost 6 curves instead of 10.
    """
    _check_perturbation(perturbation)
    x1 = np.asarray(x, np.float32)[None]
    maps = np.asarray(heatmaps, np.float32)
    m = len(maps)
    stacked = np.concatenate([maps[None], reference_maps(x1, seed, perturbation)], axis=1)
    fill = mean_colour(x1) if perturbation == "mean" else None
    probs = deletion_probabilities(probabilities, x1, stacked, seed, fill)  # (1, M + R, S, K)
    counts = trust_counts(maps.shape[1:])
    out = []
    for i in range(m):
        curves = np.concatenate([probs[:, i : i + 1], probs[:, m:]], axis=1)
        empty = np.array([maps[i].max() <= 0])
        found = trust_from_curves(curves, np.array([labels[i]]), counts, empty)[0]
        out.append(replace(found, perturbation=perturbation))
    return out


def trust(
    probabilities: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    heatmap: np.ndarray,
    label: int,
    seed: int = 0,
    perturbation: str = "zero",
) -> Trust:
    """The trust of one (H, W) map for class `label` on one input x (H, W[, C])."""
    maps = np.asarray(heatmap)[None]
    return trust_maps(probabilities, x, maps, np.array([label]), seed, perturbation)[0]
