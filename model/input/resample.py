"""Pillow's BOX and BILINEAR resizing of a small float32 map, as two matrix products.

Pillow resizes a float ('F') image in two separable passes. Each output pixel of a pass
is a weighted sum, in float64, of the input pixels under the filter
(`precompute_coeffs` in Pillow's Resample.c: a box or a tent, widened by the scale when
shrinking, normalised to sum 1), stored as float32. Written as an (out, in) matrix of
those same weights, a pass is one matrix product. For the maps a 28x28 MNIST digit
makes (copied up to 64x64 for the lighting check, fitted to 80 and to 20 pixels) that is
2-3x faster than a round trip through a Pillow image; larger maps, where a dense matrix
does far more work than Pillow's few taps per pixel, go to Pillow, or when enlarged by
the tent (bilinear interpolation, the same map) to OpenCV.

The two agree within one float32 rounding (6e-8 on maps in [0, 1]): the products sum
in another order, and Pillow chooses which pass runs first by a rule of its own; here
the horizontal pass always runs first (tests/model/test_resample.py).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image

#: Multiply-adds of both passes (dense) up to which the matrix products run here; beyond
#: it Pillow's sparse loops win (a 200x150 crop to 80x60: 114 against 55 us here).
MAX_DENSE_WORK = 250_000


@lru_cache(maxsize=512)
def weights(n_in: int, n_out: int, box: bool) -> np.ndarray:
    """(n_out, n_in) float64: Pillow's coefficients for one axis (BOX or BILINEAR)."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = (0.5 if box else 1.0) * filterscale
    centre = (np.arange(n_out) + 0.5) * scale
    # Pillow's window of input pixels for each output pixel (C's int() truncates)
    lo = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((centre + support + 0.5).astype(np.int64), n_in)
    cols = np.arange(n_in)
    t = (cols[None, :] - centre[:, None] + 0.5) * (1.0 / filterscale)
    w = ((t > -0.5) & (t <= 0.5)).astype(np.float64) if box else np.maximum(1.0 - abs(t), 0.0)
    w[(cols[None, :] < lo[:, None]) | (cols[None, :] >= hi[:, None])] = 0.0
    # Each row's total summed in order, as Pillow sums it (a cumulative sum is sequential).
    total = np.cumsum(w, axis=1)[:, -1:]
    k = np.divide(w, total, out=w, where=total != 0.0)
    k.setflags(write=False)
    return k


def dense_work(shape: tuple[int, int], hw: tuple[int, int]) -> int:
    """Multiply-adds of both passes as dense products (horizontal first)."""
    (hi, wi), (ho, wo) = shape, hw
    return hi * wi * wo * (wi != wo) + ho * hi * wo * (hi != ho)


def resize(a: np.ndarray, hw: tuple[int, int], box: bool) -> np.ndarray:
    """(h, w) float32 map -> hw (rows, cols), by Pillow's BOX (box=True) or BILINEAR
    filter; a new array."""
    h, w = hw
    a = np.asarray(a, np.float32)
    if dense_work(a.shape, hw) > MAX_DENSE_WORK:
        if not box and h >= a.shape[0] >= 2 and w >= a.shape[1] >= 2:
            # Enlarging, the tent is plain bilinear interpolation between pixel centres
            # (Pillow cuts it at the edges and renormalises: the edge pixel's value, as
            # OpenCV's replicated border gives). The same map within one rounding, in
            # 0.25-0.4x Pillow's time with its copies (a photo's lighting, 64 -> 448).
            # (A map one pixel thick goes to Pillow: OpenCV's differs there by 1e-5.)
            return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        return pillow_resize(a, hw, box)
    out = a
    if out.shape[1] != w:
        out = (out.astype(np.float64) @ weights(out.shape[1], w, box).T).astype(np.float32)
    if out.shape[0] != h:
        out = (weights(out.shape[0], h, box) @ out.astype(np.float64)).astype(np.float32)
    return out if out is not a else a.copy()


def pillow_resize(a: np.ndarray, hw: tuple[int, int], box: bool) -> np.ndarray:
    """The same resize through a Pillow 'F' image (large maps; the reference)."""
    filt = Image.Resampling.BOX if box else Image.Resampling.BILINEAR
    a = np.ascontiguousarray(a, np.float32)
    # Pillow reads the array's own buffer and hands back its bytes: the same image and
    # resize as Image.fromarray / np.asarray, without their copies and checks.
    image = Image.frombuffer("F", (a.shape[1], a.shape[0]), a, "raw", "F", 0, 1)
    out = image.resize((hw[1], hw[0]), filt)
    return np.frombuffer(out.tobytes(), np.float32).reshape(hw)
