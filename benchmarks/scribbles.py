"""Which of the benchmark's scribbles are shaped like a digit, decided from their geometry.

The report scribbles of `training/ood.py` are Lissajous curves; many of them are shapes a
person reads as a digit (an ellipse is a 0, an upright figure-eight an 8, a vertical
zigzag an S or a Z). `benchmarks/ood.py` reports them in two parts as well as together,
split by this rule, which looks only at the drawn curve, never at the model:

A scribble is **digit-shaped** when its pen turns vertically at most twice (it goes down
and comes back up at most once, as in 0, 6 or 8; more turns make a wave, a zigzag lying on
its side or a lying 8) and its ink encloses at most two holes (as many as an 8 has; more
make a knot).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from PIL import Image
from scipy import ndimage

from training.shapes import LISSAJOUS_POINTS, Lissajous, draw_lissajous

#: A digit goes down and back up at most once: 0, 6, 8 and 9 turn twice, 1, 2, 3, 5, 7 less.
MAX_VERTICAL_TURNS = 2
#: An 8 encloses two holes; no digit encloses more.
MAX_HOLES = 2
#: A vertical turn counts when the pen comes back by at least this share of the drawing's
#: longest side (smaller wiggles are the pen's jitter, not a change of direction).
TURN_TOLERANCE = 0.1
#: A hole counts when it is at least this share of the drawing's longest side across: one
#: pixel of the 20-pixel box a digit fills in a 28x28 MNIST input. Smaller pockets vanish.
HOLE_MIN_SIDE = 1 / 20
#: Ink in the 'L' strokes image (ink bright).
INK = 128


@dataclass(frozen=True)
class ScribbleShape:
    """The geometry the rule looks at, and its decision."""

    vertical_turns: int
    holes: int

    @property
    def digit_shaped(self) -> bool:
        return self.vertical_turns <= MAX_VERTICAL_TURNS and self.holes <= MAX_HOLES


def drawn_path(curve: Lissajous) -> np.ndarray:
    """(M, 2) the points the pen draws, each place once.

    When a and b share a factor g the curve closes after 1/g of the period and the rest of
    the stroke goes over the same path again: only the first pass is kept.
    """
    pts = curve.points()
    t = np.arange(len(pts)) / (LISSAJOUS_POINTS - 1)  # share of the full period
    return pts[t < 1 / gcd(curve.a, curve.b)]


def turns(values: np.ndarray, tolerance: float) -> int:
    """Changes of direction of a 1-D path, ignoring reversals smaller than `tolerance`."""
    v = np.asarray(values, float)
    count, direction = 0, 0  # direction: +1 rising, -1 falling, 0 not yet known
    high = low = v[0]
    for x in v[1:]:
        high, low = max(high, x), min(low, x)
        if direction >= 0 and high - x > tolerance:  # came down from a peak
            count += direction == 1
            direction, low = -1, x
        elif direction <= 0 and x - low > tolerance:  # came up from a trough
            count += direction == -1
            direction, high = 1, x
    return count


def holes(strokes: Image.Image) -> int:
    """Background pockets the ink fully encloses, at least HOLE_MIN_SIDE of the drawing across."""
    ink = np.asarray(strokes.convert("L")) >= INK
    pockets, n = ndimage.label(~ink)  # 4-connected: a diagonal gap closes no hole
    sizes = np.bincount(pockets.ravel(), minlength=n + 1)
    edge = np.unique(np.concatenate([pockets[0], pockets[-1], pockets[:, 0], pockets[:, -1]]))
    sizes[edge] = 0  # open to the border: outside the drawing
    sizes[0] = 0  # the ink itself
    min_area = (HOLE_MIN_SIDE * max(ink.shape)) ** 2
    return int((sizes >= min_area).sum())


def scribble_shape(curve: Lissajous) -> ScribbleShape:
    """How many times the drawn curve turns vertically, and how many holes its ink encloses."""
    return path_shape(drawn_path(curve), draw_lissajous(curve))


def path_shape(path: np.ndarray, strokes: Image.Image) -> ScribbleShape:
    """The same rule for any one-stroke drawing: its (M, 2) pen path (y down) and its ink."""
    side = float(np.ptp(path, axis=0).max())
    return ScribbleShape(
        vertical_turns=turns(path[:, 1], TURN_TOLERANCE * side),
        holes=holes(strokes),
    )
