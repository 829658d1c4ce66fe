"""The hot path's own histogram is NumPy's, count for count and edge for edge."""

import numpy as np
import pytest

from model.input.filters import histogram


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
