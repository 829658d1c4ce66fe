"""The image filters on the preprocessing hot path.

OpenCV gives the same numbers as scipy.ndimage's filters
(tests/model/test_preprocessing.py compares them), 5-20x faster on a 280x280 drawing.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

cv2.setNumThreads(1)  # sub-millisecond filters: a thread pool would cost more than it saves
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)  # scipy's default structure
SQUARE = np.ones((3, 3), np.uint8)


@lru_cache(maxsize=64)
def _gaussian_kernel(sigma: float, truncate: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian kernel: radius int(truncate * sigma + 0.5), sum 1."""
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian(a: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(a, sigma, truncate=truncate) of a (h, w) float32 map:
    the same kernel, the same mirrored edges ('reflect' = OpenCV's BORDER_REFLECT)."""
    kernel = _gaussian_kernel(float(sigma), float(truncate))
    a = np.ascontiguousarray(a, dtype=np.float32)
    return cv2.sepFilter2D(a, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def smooth_opening(a: np.ndarray, size: int) -> np.ndarray:
    """uniform_filter(grey_opening(a, size), size) of scipy.ndimage, for a (h, w) float32
    map: a slow background estimate. Erosion then dilation with a flat size x size
    square, anchored as scipy anchors them (for an even size the dilation's window
    sits one pixel further on), then a mean over the same square with mirrored edges."""
    square = np.ones((size, size), np.uint8)
    anchor = (size - 1) // 2
    opened = cv2.dilate(
        cv2.erode(np.ascontiguousarray(a, np.float32), square), square, anchor=(anchor, anchor)
    )
    return cv2.blur(opened, (size, size), borderType=cv2.BORDER_REFLECT)


def percentile(a: np.ndarray, q: float) -> float:
    """np.percentile(a, q) (linear interpolation) by one partial sort, without numpy's
    general machinery (which costs more than the sort on a small sample)."""
    v = np.ravel(a)
    k = (v.size - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, v.size - 1)
    if v.size <= SORT_MEDIAN_MAX:
        part = np.partition(v, (lo, hi))
        low, high = part[lo], part[hi]
    else:
        low, high = _neighbours(v, lo, hi)
    return float(low + (high - low) * (k - lo))


def sorted_percentile(s: np.ndarray, q: float) -> float:
    """np.percentile(s, q) of an already sorted 1-D array: several percentiles of one
    array from one sort (`percentile` partitions it again for each)."""
    k = (s.size - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, s.size - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (k - lo))


def _neighbours(v: np.ndarray, lo: int, hi: int) -> tuple[np.floating, np.floating]:
    """The lo-th and hi-th smallest of `v` (hi = lo or lo + 1): the lo-th by one partial
    sort, the next as the least of those above it. The same values as
    `np.partition(v, (lo, hi))`, which on a photo's 28,000 pixels takes 9x as long (NumPy
    selects a tuple of kth much more slowly than one)."""
    part = np.partition(v, lo)
    return part[lo], (part[lo + 1 :].min() if hi > lo else part[lo])


#: Up to this many values a full sort is cheaper than NumPy's partial sort (108 border
#: pixels of a 28x28 digit: 1.6 against 7.4 us); both give the same middle values.
SORT_MEDIAN_MAX = 2048


def median(a: np.ndarray) -> float:
    """np.median(a) of finite float values, bit for bit: the same middle one or two values
    (by a sort, or a partial sort for many) and the same mean of two (their sum in the
    array's float type, halved), without numpy's general machinery."""
    v = np.ravel(a)
    mid = v.size // 2
    if v.size <= SORT_MEDIAN_MAX:
        s = np.sort(v)
        return float(s[mid]) if v.size % 2 else float((s[mid - 1] + s[mid]) / 2)
    if v.size % 2:
        return float(np.partition(v, mid)[mid])
    low, high = _neighbours(v, mid - 1, mid)
    return float(np.mean(np.array([low, high])))


def grid_sample(a: np.ndarray, n: int) -> np.ndarray:
    """About `n` pixels of a (h, w) map, every k-th row and column (k >= 1): its levels'
    statistics at a fraction of the cost (a stroke still crosses the grid many times)."""
    step = max(1, int(np.ceil((a.size / n) ** 0.5)))
    return a[::step, ::step]


#: From this side on, a dilation by a full rectangle is counted on an integral image (a
#: cost per pixel that does not grow with the rectangle) instead of OpenCV's dilation
#: (which does): on a 360x640 mask, 161 -> 0.49 vs 0.30 ms, 213 -> 0.63 vs 0.35 ms, even
#: at 80; a photo's lighting check dilates by a third and a quarter of its side.
BOX_BY_SUMS = 96


def max_filter(mask: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """(h, w) bool mask dilated by a uint8 footprint (scipy's maximum_filter on a mask)."""
    if min(footprint.shape) >= BOX_BY_SUMS and footprint.all():
        return _box_any(mask, *footprint.shape)
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), footprint).astype(bool)


def _box_any(mask: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """`cv2.dilate` of a bool mask by a kh x kw rectangle, bit for bit: whether the window
    (anchored at its centre, kh // 2 rows above, as OpenCV's) holds any True, by the sums of
    an integral image of the mask padded with zeros (which OpenCV's border adds nothing to)."""
    h, w = mask.shape
    padded = np.zeros((h + kh - 1, w + kw - 1), np.uint8)
    padded[kh // 2 : kh // 2 + h, kw // 2 : kw // 2 + w] = mask
    s = cv2.integral(padded)  # (h + kh, w + kw) int32: a working copy's counts fit
    return (s[kh:, kw:] - s[:-kh, kw:] - s[kh:, :-kw] + s[:-kh, :-kw]) > 0


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary drawing: 2 * area / boundary length."""
    inner = cv2.erode(mask.view(np.uint8), CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    area = int(np.count_nonzero(mask))
    boundary = area - int(np.count_nonzero(inner))
    return 2.0 * area / max(float(boundary), 1.0)


def histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """np.histogram(values, bins) of a non-empty 1-D array of finite floats: the same
    counts and edges by the same operations (its uniform-bins path: the same edges, bin
    indices and one-ULP corrections), without its argument handling, which is half its
    cost on a digit's few hundred pixels."""
    first, last = values.min(), values.max()
    if first == last:
        first, last = first - 0.5, last + 0.5
    dtype = np.result_type(first, last, values)
    edges = _linspace(first, last, bins, dtype)
    a = values.astype(edges.dtype, copy=False)
    idx = ((a - first) / (last - first) * bins).astype(np.intp)
    idx[idx == bins] -= 1
    idx[a < edges[idx]] -= 1
    idx[(a >= edges[idx + 1]) & (idx != bins - 1)] += 1
    return np.bincount(idx, minlength=bins), edges


@lru_cache(maxsize=8)
def _ramp(n: int, dtype: np.dtype) -> np.ndarray:
    ramp = np.arange(n, dtype=dtype)
    ramp.setflags(write=False)
    return ramp


def _linspace(first, last, bins: int, dtype: np.dtype) -> np.ndarray:
    """np.linspace(first, last, bins + 1, dtype=dtype) of two scalars of that float type,
    by its own operations (a ramp times the step, plus the start; the last edge set to
    `last`), at a third of its cost."""
    delta = np.subtract(last, first, dtype=dtype)
    step = delta / bins
    ramp = _ramp(bins + 1, dtype)
    # (a step of 0, from a subnormal span: linspace divides the ramp first)
    edges = ramp / bins * delta if step == 0 else ramp * step
    edges += first
    edges[-1] = last
    return edges
