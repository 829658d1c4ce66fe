"""The geometric rule that splits the benchmark's scribbles into digit-shaped ones and the rest."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from benchmarks.scribbles import scribble_shape, turns
from training.negatives import negatives, report_scribbles
from training.shapes import LISSAJOUS_POINTS, Lissajous

FULL = LISSAJOUS_POINTS - 1  # the most a report scribble draws


def curve(a: int, b: int, phase_x: float, phase_y: float, n: int = FULL) -> Lissajous:
    return Lissajous(a, b, phase_x, 0.9, phase_y, 0.8, n, pen=10)


@pytest.mark.parametrize(
    ("name", "c", "digit_shaped"),
    [
        ("ellipse (a 0)", curve(1, 1, 0.0, math.pi / 2), True),
        ("ellipse drawn twice over", curve(2, 2, 0.0, math.pi / 2), True),
        ("upright figure-eight (an 8)", curve(2, 1, 0.0, 0.0), True),
        ("vertical zigzag, half drawn (an S)", curve(3, 1, 0.0, -math.pi / 2, FULL // 2), True),
        ("lying figure-eight", curve(1, 2, 0.0, 0.0), False),
        ("lying 1:3 zigzag", curve(1, 3, 0.5, 0.0), False),
        ("3:4 knot", curve(3, 4, 0.3, 1.0), False),
        ("upright 4:1 chain of four loops", curve(4, 1, 0.3, 0.0), False),
    ],
)
def test_digit_shaped_scribbles(name, c, digit_shaped):
    shape = scribble_shape(c)
    assert shape.digit_shaped is digit_shaped, f"{name}: {shape}"


def test_the_shapes_are_counted():
    assert scribble_shape(curve(1, 1, 0.0, math.pi / 2)).holes == 1
    assert scribble_shape(curve(2, 1, 0.0, 0.0)).holes == 2
    assert scribble_shape(curve(1, 3, 0.5, 0.0)).vertical_turns == 6  # y = sin 3t: 6 extrema


def test_turns_ignore_jitter():
    assert turns(np.array([0, 1, 0, 1, 0]), 0.5) == 3
    assert turns(np.array([0, 1, 0.95, 1, 0]), 0.5) == 1  # a 0.05 wiggle is no turn
    assert turns(np.linspace(0, 1, 10), 0.1) == 0


def _pixels(item) -> np.ndarray:
    img = Image.open(io.BytesIO(item)) if isinstance(item, bytes) else item
    return np.asarray(img)


def test_report_scribbles_are_the_benchmarks_scribbles():
    """The split is of the very images the `scribbles` row scores (same seed, same draws)."""
    seed = 7
    items, curves = report_scribbles(6, seed)
    assert len(curves) == 6
    for ours, theirs in zip(items, negatives("scribbles", 6, "report", seed), strict=True):
        assert type(ours) is type(theirs)
        np.testing.assert_array_equal(_pixels(ours), _pixels(theirs))


def test_the_benchmark_draws_the_same_scribbles_as_before():
    """The `scribbles` row stays reproducible: the benchmark seed's first curve, as first drawn."""
    from benchmarks.ood import NEGATIVE_SETS, SEED

    first = report_scribbles(1, SEED + 1000 + NEGATIVE_SETS.index("scribbles"))[1][0]
    assert (first.a, first.b, first.n_points, first.pen) == (2, 3, 133, 24)
    np.testing.assert_allclose(
        (first.phase_x, first.amp_x, first.phase_y, first.amp_y),
        (0.6106576186392338, 0.5706389593254526, 3.965881781144902, 0.6217702880366176),
    )


def test_report_scrawls_are_the_benchmarks_scrawls_and_split_by_the_same_rule():
    """The `scrawls` rows split the very images the benchmark scores, by the scribbles' rule:
    a three-stroke zigzag standing up (a Z) is digit-shaped, a long scratch-out is not."""
    from benchmarks.scribbles import path_shape
    from training.handwriting import draw_path
    from training.negatives import report_scrawls

    items, drawn = report_scrawls(4, 3)
    for ours, theirs in zip(items, negatives("scrawls", 4, "report", 3), strict=True):
        np.testing.assert_array_equal(_pixels(ours), _pixels(theirs))
    z = np.array([[0, 0], [100, 0], [0, 150], [100, 150]], float)
    scratch = np.array([[x, 150 * (k % 2)] for k, x in enumerate(range(0, 200, 20))], float)
    assert path_shape(z, draw_path(z, 12)).digit_shaped
    assert not path_shape(scratch, draw_path(scratch, 12)).digit_shaped
