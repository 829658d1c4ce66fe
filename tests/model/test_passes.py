"""The maps' upsampling (`model.why.passes.upsample`, `upsample_channels`) gives scipy's
linear zoom, the reference tf-keras-vis uses, bit for bit."""

import numpy as np
import pytest
from scipy import ndimage

from model.why.passes import upsample


@pytest.mark.parametrize("hw", [(7, 7), (14, 14), (3, 3), (1, 1), (7, 5), (2, 9), (28, 28)])
def test_upsample_is_scipys_linear_zoom_bit_for_bit(hw):
    rng = np.random.default_rng(sum(hw))
    maps = rng.random((3, *hw), np.float32) * (rng.random((3, *hw)) > 0.3)
    want = ndimage.zoom(maps, (1, 28 / hw[0], 28 / hw[1]), order=1)
    np.testing.assert_array_equal(upsample(maps, (28, 28)), want)


def test_score_cams_masks_are_scipys_zoom_of_the_channels():
    """Score-CAM upsamples (N, h, w, k) channels: as one 4-D zoom, before."""
    from model.why.passes import upsample_channels

    sel = np.random.default_rng(1).random((2, 7, 7, 10), np.float32)
    want = ndimage.zoom(sel, (1, 4, 4, 1), order=1, mode="nearest")
    np.testing.assert_array_equal(upsample_channels(sel, (28, 28)), want)


def test_normalise_scales_each_map_and_zeroes_what_is_not_finite():
    from model.why.attribution import normalise

    maps = np.array([[[1.0, 2.0], [4.0, -1.0]], [[np.nan, np.inf], [-np.inf, 3.0]]], np.float32)
    np.testing.assert_array_equal(
        normalise(maps), np.array([[[0.25, 0.5], [1.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])
    )
    assert not normalise(np.zeros((1, 3, 3), np.float32)).any()
