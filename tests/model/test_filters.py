"""The hot path's own histogram and median are NumPy's, value for value."""

import numpy as np
import pytest

from model.input.filters import SORT_MEDIAN_MAX, histogram, median


@pytest.mark.parametrize(
    "make",
    [
        lambda rng, n: rng.random(n, dtype=np.float32),
        lambda rng, n: (rng.integers(0, 256, n) / 255).astype(np.float32),  # 8-bit levels
        lambda rng, n: np.full(n, np.float32(rng.random())),  # one value: NumPy's +-0.5
        lambda rng, n: (rng.random(n) ** 3 * 0.7 + 0.01).astype(np.float32),  # skewed
        lambda rng, n: rng.random(n),  # float64
    ],
)
def test_histogram_is_numpys(make):
    rng = np.random.default_rng(0)
    for n in [1, 2, 3, 63, 64, 65, *rng.integers(100, 5000, 200)]:
        values = make(rng, int(n))
        want_counts, want_edges = np.histogram(values, bins=64)
        counts, edges = histogram(values, 64)
        assert counts.dtype == want_counts.dtype and edges.dtype == want_edges.dtype
        np.testing.assert_array_equal(counts, want_counts)
        np.testing.assert_array_equal(edges, want_edges)


def test_block_steps_are_numpys():
    """`unblocked`'s step finder (OpenCV) against the NumPy expression it replaced."""
    from model.input.blocks import BLOCK_STEP, _steps

    rng = np.random.default_rng(0)
    for i in range(600):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        g = rng.random((h, w), dtype=np.float32)
        if i % 3 == 0:  # a blocky picture: cells of 5 pixels
            cells = rng.random((-(-h // 5), -(-w // 5)), dtype=np.float32)
            g = np.kron(cells, np.ones((5, 5), np.float32))[:h, :w]
        elif i % 3 == 1:  # sparse strokes of one level
            g = (g > 0.9).astype(np.float32) * np.float32(rng.random())
        for axis in (0, 1):
            want = (np.abs(np.diff(g, axis=axis)) > BLOCK_STEP).any(axis=1 - axis)
            np.testing.assert_array_equal(_steps(g, axis), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_median_is_numpys(dtype):
    """Both ways (a sort for few values, a partial sort for many), odd and even counts."""
    rng = np.random.default_rng(0)
    sizes = [1, 2, 3, 4, 107, 108, SORT_MEDIAN_MAX, SORT_MEDIAN_MAX + 1, SORT_MEDIAN_MAX + 2]
    for n in [*sizes, *rng.integers(5, 3 * SORT_MEDIAN_MAX, 100)]:
        for values in (rng.random(int(n)), (rng.integers(0, 256, int(n)) / 255)):
            v = values.astype(dtype).reshape(1, -1)
            assert median(v) == float(np.median(v))


def test_large_box_dilation_by_sums_is_opencvs():
    """max_filter's integral-image path (rectangles from BOX_BY_SUMS on) against OpenCV's
    dilation, bit for bit: odd and even sides, rectangles, windows larger than the mask,
    masks empty, full, sparse, and True at the edges."""
    import cv2

    from model.input.filters import BOX_BY_SUMS, max_filter

    rng = np.random.default_rng(0)
    tried = 0
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 300, 2))
        density = float(rng.choice([0.0, 0.001, 0.01, 0.2, 1.0]))
        mask = rng.random((h, w)) < density
        mask[0, -1] = mask[-1, 0] = bool(rng.integers(2))  # the corners
        kh, kw = (int(v) for v in rng.integers(BOX_BY_SUMS, 340, 2))
        footprint = np.ones((kh, kw), np.uint8)
        want = cv2.dilate(mask.view(np.uint8), footprint).astype(bool)
        assert np.array_equal(max_filter(mask, footprint), want), (h, w, kh, kw)
        tried += 1
    for k in (BOX_BY_SUMS, BOX_BY_SUMS + 1, 161, 213, 214):  # a photo's sides, even and odd
        mask = rng.random((360, 640)) < 0.02
        footprint = np.ones((k, k), np.uint8)
        want = cv2.dilate(mask.view(np.uint8), footprint).astype(bool)
        assert np.array_equal(max_filter(mask, footprint), want), k
    assert tried == 60


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_percentile_of_many_values_is_one_partial_sort_away(dtype):
    """Past SORT_MEDIAN_MAX values, `percentile` selects one kth and takes the next value
    as the least above it: the two values `np.partition(v, (lo, hi))` gives, and so the
    same percentile, for the levels a photo's ink map holds (ties included)."""
    from model.input.filters import _neighbours, percentile

    rng = np.random.default_rng(0)
    for n in [SORT_MEDIAN_MAX + 1, SORT_MEDIAN_MAX + 2, 28_224, *rng.integers(3000, 120_000, 20)]:
        for values in (rng.random(int(n)), (rng.integers(0, 256, int(n)) / 255)):
            v = values.astype(dtype)
            for q in (0.0, 2.0, 50.0, 98.0, 99.9, 100.0):
                k = (v.size - 1) * q / 100.0
                lo, hi = int(k), min(int(k) + 1, v.size - 1)
                part = np.partition(v, (lo, hi))
                assert _neighbours(v, lo, hi) == (part[lo], part[hi])
                want = float(part[lo] + (part[hi] - part[lo]) * (k - lo))
                assert percentile(v, q) == want
