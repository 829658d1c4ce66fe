"""The benchmark's drawn digits (`training.renders`): with `pens=False` a digit keeps its
writer's own stroke, only scaled (the `plain` row of `benchmarks.numbers`, the numbers
issue #25 describes); with pens it is drawn again from a thin pen to a marker."""

from __future__ import annotations

import numpy as np

from training.renders import number_strokes, upscale


def digit() -> np.ndarray:
    """A 28x28 '0' with a 2-pixel stroke, in MNIST's levels."""
    d = np.zeros((28, 28), np.uint8)
    d[6:22, 8:10] = d[6:22, 18:20] = d[6:8, 8:20] = d[20:22, 8:20] = 255
    return d


def ink(img) -> int:
    return int((np.asarray(img) > 128).sum())


def test_without_pens_a_digit_keeps_its_own_stroke_whatever_the_draw():
    plain = {ink(upscale(digit(), 100, np.random.default_rng(s), pens=False)) for s in range(12)}
    assert len(plain) == 1
    penned = {ink(upscale(digit(), 100, np.random.default_rng(s))) for s in range(12)}
    assert len(penned) > 2  # thin, normal, thick, very thick
    assert min(penned) < plain.pop() < max(penned)


def test_a_plain_number_is_its_digits_side_by_side():
    rng = np.random.default_rng(3)
    field = np.asarray(number_strokes([digit(), digit(), digit()], rng, pens=False)) > 128
    columns = np.flatnonzero(field.any(axis=0))
    runs = 1 + int((np.diff(columns) > 1).sum())
    assert runs == 3  # three 0s, apart
