"""The maps' upsampling (`model.why.upsample.upsample`, `upsample_channels`) gives scipy's
linear zoom, the reference tf-keras-vis uses, within one float32 rounding."""

import numpy as np
import pytest
from scipy import ndimage

from model.why.upsample import upsample

#: One float32 rounding of the larger value, relative (the products sum in another order).
ROUNDING = 3e-7


@pytest.mark.parametrize("hw", [(7, 7), (14, 14), (3, 3), (1, 1), (7, 5), (2, 9), (28, 28)])
def test_upsample_is_scipys_linear_zoom(hw):
    rng = np.random.default_rng(sum(hw))
    maps = np.maximum(rng.normal(size=(200, *hw)), 0).astype(np.float32) * 3  # a CAM's
    want = ndimage.zoom(maps, (1, 28 / hw[0], 28 / hw[1]), order=1)
    np.testing.assert_allclose(upsample(maps, (28, 28)), want, rtol=ROUNDING, atol=1e-12)


def test_a_value_that_is_not_finite_spoils_no_more_than_its_neighbours():
    maps = np.zeros((1, 7, 7), np.float32)
    maps[0, 1, 1], maps[0, 5, 5] = np.nan, 1.0
    up = upsample(maps, (28, 28))
    assert np.isfinite(up).all() and up[0, 22, 22] > 0.5 and up[0, 4, 4] == 0


def test_score_cams_masks_are_scipys_zoom_of_the_channels():
    """Score-CAM upsamples (N, h, w, k) channels: as one 4-D zoom, before."""
    from model.why.upsample import upsample_channels

    sel = np.random.default_rng(1).random((2, 7, 7, 10), np.float32)
    want = ndimage.zoom(sel, (1, 4, 4, 1), order=1, mode="nearest")
    np.testing.assert_allclose(upsample_channels(sel, (28, 28)), want, rtol=ROUNDING, atol=1e-12)


def test_normalise_scales_each_map_and_zeroes_what_is_not_finite():
    from model.why.attribution import normalise

    maps = np.array([[[1.0, 2.0], [4.0, -1.0]], [[np.nan, np.inf], [-np.inf, 3.0]]], np.float32)
    np.testing.assert_array_equal(
        normalise(maps), np.array([[[0.25, 0.5], [1.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])
    )
    assert not normalise(np.zeros((1, 3, 3), np.float32)).any()
