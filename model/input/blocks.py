"""Pictures scaled up from a few pixels (a small scan blown up to fill the frame): their
cells found and resampled smoothly (`unblocked`, the first step of the digit recipe on
grey pictures).

- Scaled up by nearest neighbour, the cells are square blocks, whose corners would reach
  the model as corners: found by where the picture steps.
- Scaled up by linear interpolation (bilinear: what most viewers and `resize` calls do),
  the picture runs straight from one cell's centre to the next and bends only there:
  found by where it bends. Its thin strokes reached the model as ramps with flat tops
  (sklearn's 8x8 scans: 94.1 %, against 95.2 % for the same cells scaled up bicubic);
  its cells, read at their centres and scaled up bicubic, are read as those (95.3 %).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

#: A picture scaled up by nearest neighbour changes (by more than BLOCK_STEP, 0..1) only
#: on a grid of cells at least BLOCK_MIN_CELL pixels wide, at least BLOCK_MIN_CELLS of
#: them along each side. Its cells are then resampled smoothly: sklearn's 8x8 scans
#: scaled up blocky read 84.7 % as blocks, 95.3 % resampled (bicubic: 95.2 %).
BLOCK_STEP = 0.1
BLOCK_STEP_LEVELS = 25  # the same step on 0..255 levels: more than 25 (`_steps`)
BLOCK_MIN_CELL = 3
BLOCK_MIN_CELLS = 4
#: Scaled up by linear interpolation, a picture's second differences along each axis are
#: rounding but at its cells' centres: at most KINK_LEVELS levels of 0..255 (rounding
#: to whole levels after each of two passes: Pillow's and OpenCV's resize measured 3 at
#: most, the cells' centres of sklearn's 8x8 scans scaled up to 280 up to 50).
KINK_LEVELS = 3
#: ... and, between its first bend and its last, at a third of its cells' centres at
#: least (a digit's strokes cross most of them; a bicubic upscale bends by more than
#: that at a few, far apart, which fit a grid of cells of a few pixels).
MIN_BENDING = 3


def _cell(changes: np.ndarray) -> int | None:
    """The cell size of a grid along one axis, from where the picture changes (bool over
    the n-1 steps between n pixels), or None when the changes lie on no coarse grid."""
    n = changes.size + 1
    edges = np.flatnonzero(changes) + 1
    if edges.size < 3 or edges.size > n // BLOCK_MIN_CELLS:  # (a lone bar is not a grid)
        return None
    gaps = np.diff(edges)
    cell = int(gaps.min())
    # Every gap is k whole cells, each cell `cell` or `cell + 1` pixels (a scale factor
    # that is not a whole number): k * cell + 0..k pixels, and a pixel for rounding.
    k = gaps // cell
    if cell < BLOCK_MIN_CELL or n / cell < BLOCK_MIN_CELLS or (gaps - k * cell > k + 1).any():
        return None
    return cell


def _steps(gray: np.ndarray, axis: int) -> np.ndarray:
    """Where along `axis` the (h, w) float32 picture steps by more than BLOCK_STEP anywhere:
    (np.abs(np.diff(gray, axis=axis)) > BLOCK_STEP).any(other axis), by OpenCV (the same
    float32 differences, a fifth of the cost on a canvas). Given the uint8 levels the
    picture is levels / 255 of, on them: a step over BLOCK_STEP is one of more than
    BLOCK_STEP_LEVELS levels (the nearest differences, 25 and 26 levels, are 0.098 and
    0.102, far beyond float32's rounding), at a quarter of the memory."""
    g = gray if gray.dtype == np.uint8 else np.asarray(gray, np.float32)
    a, b = (g[:, 1:], g[:, :-1]) if axis == 1 else (g[1:], g[:-1])
    if a.size == 0:
        return np.zeros(g.shape[axis] - 1, bool)
    if g.dtype == np.uint8:  # (OpenCV's reduce is slow on uint8: numpy's max)
        return cv2.absdiff(a, b).max(axis=1 - axis) > BLOCK_STEP_LEVELS
    biggest = cv2.reduce(cv2.absdiff(a, b), 0 if axis == 1 else 1, cv2.REDUCE_MAX)
    return biggest.ravel() > BLOCK_STEP


def _bends(picture: np.ndarray, axis: int) -> np.ndarray | None:
    """Where along `axis` the (h, w) picture (uint8 levels, or floats in 0..1) bends by more
    than KINK_LEVELS anywhere, as positions in pixels (a bend between two pixels marks
    both: its position is halfway), or None where it bends over more than two pixels
    running (a step's edge, blur: no linear interpolation's)."""
    if picture.dtype == np.uint8:
        a, limit = picture.astype(np.int16), float(KINK_LEVELS)
    else:
        a, limit = np.asarray(picture, np.float32), (KINK_LEVELS + 0.5) / 255
    a = a if axis == 1 else a.T
    if a.shape[1] < 3:
        return None
    second = np.abs(a[:, 2:] - 2 * a[:, 1:-1] + a[:, :-2]).max(axis=0)  # pixel i: index i - 1
    at = np.flatnonzero(second > limit) + 1
    if at.size == 0:
        return at.astype(np.float64)
    breaks = np.flatnonzero(np.diff(at) > 1)
    first, last = at[np.r_[0, breaks + 1]], at[np.r_[breaks, at.size - 1]]
    if (last - first > 1).any():
        return None
    return (first + last) / 2.0


def _cells_across(bends: np.ndarray | None, n: int, m: int | None = None) -> int | None:
    """How many cells a picture n pixels long was scaled up from by linear interpolation,
    given where it bends (`_bends`), or None where the bends lie on no such grid: the
    centres of m cells scaled up to n pixels lie at (i + 0.5) * n / m - 0.5, and a bend
    may be missing (two cells' slopes alike) but none may lie more than a pixel (a
    quarter of a cell, where that is less) from one. m: the cells' count where the
    other axis told it (square cells), only to be checked against the bends."""
    if bends is None:
        return None
    if m is None:
        if bends.size < BLOCK_MIN_CELLS or bends.size > n // BLOCK_MIN_CELLS:
            return None
        gaps = np.diff(bends)
        cells = np.round(gaps / gaps.min())
        if gaps.size * MIN_BENDING < cells.sum():  # (a few bends far apart: any grid fits)
            return None
        m = round(n * cells.sum() / (bends[-1] - bends[0]))
    if m < BLOCK_MIN_CELLS or n / m < BLOCK_MIN_CELL:
        return None
    centre = (bends + 0.5) * m / n - 0.5  # in cells: whole numbers at the centres
    off = np.abs(centre - np.round(centre)).max(initial=0.0) * n / m  # pixels
    return m if off <= min(1.0, n / m / 4) else None


def _centres(picture: np.ndarray, m: int, axis: int) -> np.ndarray:
    """The levels of m cells scaled up along `axis` by linear interpolation to the (h, w)
    float32 picture, read at their centres, (i + 0.5) * n / m - 0.5: the pixel there; a
    centre between two pixels is where two straight runs meet, each carried on to it
    from its own side and the two readings averaged (interpolating across the bend would
    mix in the neighbouring cells' levels: a 28x28 digit scaled up 10 times, 4 levels
    off on average)."""
    a = picture if axis == 1 else picture.T
    n = a.shape[1]
    at = (np.arange(m) + 0.5) * n / m - 0.5
    i = np.floor(at).astype(np.intp)
    f = (at - i).astype(np.float32)
    x0, x1 = a[:, np.clip(i - 1, 0, n - 1)], a[:, np.clip(i, 0, n - 1)]
    x2, x3 = a[:, np.clip(i + 1, 0, n - 1)], a[:, np.clip(i + 2, 0, n - 1)]
    centres = np.where(f == 0, x1, ((x1 + f * (x1 - x0)) + (x2 - (1 - f) * (x3 - x2))) / 2)
    return np.ascontiguousarray(centres if axis == 1 else centres.T, np.float32)


def unblocked(gray: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
    """A (h, w) picture scaled up from a few pixels -> its cells resampled smoothly;
    anything else is returned as it is (the same object). Scaled up by nearest neighbour:
    area down to the cells, bicubic back up (blocks' square corners otherwise reach the
    model as corners). Scaled up by linear interpolation: the cells' centres (each
    exactly its cell's level) bicubic back up. levels: the uint8 picture `gray` is
    levels / 255 of, where known (steps and bends are found on it)."""
    steps = gray if levels is None else levels
    h, w = gray.shape
    cx = _cell(_steps(steps, axis=1))
    cy = _cell(_steps(steps, axis=0)) if cx else None
    if cx is not None and cy is not None:
        small = Image.fromarray(np.ascontiguousarray(gray, np.float32), mode="F").resize(
            (max(round(w / cx), 1), max(round(h / cy), 1)), Image.Resampling.BOX
        )
    else:
        bx = _bends(steps, axis=1)
        by = _bends(steps, axis=0) if bx is not None else None
        mx, my = _cells_across(bx, w), _cells_across(by, h)
        # Where one axis bends too little to tell its cells (a digit's strokes may bend
        # by under KINK_LEVELS one way), its bends must lie on the other's square cells.
        if mx is None and my is not None:
            mx = _cells_across(bx, w, round(w * my / h))
        elif my is None and mx is not None:
            my = _cells_across(by, h, round(h * mx / w))
        if mx is None or my is None:
            return gray
        picture = np.ascontiguousarray(gray, np.float32)
        small = Image.fromarray(_centres(_centres(picture, mx, axis=1), my, axis=0))
    up = small.resize((w, h), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(up, np.float32), 0.0, 1.0)
