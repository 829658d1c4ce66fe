"""A map at a layer's resolution brought to the input's: linear interpolation written as
two small matrix products (`scipy.ndimage.zoom(order=1)`'s weights, as tf-keras-vis
upsamples its CAMs)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _linear(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float64: the weights of `scipy.ndimage.zoom`'s linear interpolation
    along one axis (its ends on the input's ends: output pixel i at input position
    i (n_in - 1) / (n_out - 1), between its two neighbours)."""
    w = np.zeros((n_out, n_in))
    if n_in == 1 or n_out == 1:
        w[:, 0] = 1.0
        return w
    pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1))
    left = np.minimum(np.floor(pos).astype(np.intp), n_in - 2)
    frac = pos - left
    rows = np.arange(n_out)
    w[rows, left] = 1.0 - frac
    w[rows, left + 1] += frac
    w.setflags(write=False)
    return w


def upsample(maps: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(N, h, w) -> (N, H, W) by linear interpolation, as tf-keras-vis does with
    `scipy.ndimage.zoom(order=1)`: the same weights as two small matrix products (a 7x7
    map to 28x28 in 4 us against zoom's 57), equal to zoom's within one float32 rounding
    (they sum in another order; tests/model/test_upsample.py). A value that is not finite
    counts as 0 (in a product it would spread over the whole map; zoom spreads it to its
    neighbours, which `attribution.normalise` then zeroes)."""
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:] == tuple(hw):
        return maps
    if not np.isfinite(maps).all():
        maps = np.nan_to_num(maps, posinf=0.0, neginf=0.0)
    rows, cols = _linear(maps.shape[1], hw[0]), _linear(maps.shape[2], hw[1])
    return (rows @ maps.astype(np.float64) @ cols.T).astype(np.float32)


def upsample_channels(maps: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(N, h, w, k) -> (N, H, W, k): `upsample` on each channel (Score-CAM's masks)."""
    n, h, w, k = maps.shape
    flat = np.moveaxis(maps, 3, 1).reshape(n * k, h, w)
    return np.moveaxis(upsample(flat, hw).reshape(n, k, *hw), 1, 3)
