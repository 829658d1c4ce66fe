"""Pictures scaled up by nearest neighbour (a small scan blown up to fill the frame): their
square cells found and resampled smoothly, so the blocks' corners never reach the model
as corners (`unblocked`, the first step of the digit recipe on grey pictures).
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


def unblocked(gray: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
    """A (h, w) picture scaled up by nearest neighbour -> its cells resampled smoothly
    (area down to the cells, bicubic back up); anything else is returned as it is (the
    same object). Blocks' square corners otherwise reach the model as corners. levels:
    the uint8 picture `gray` is levels / 255 of, where known (the steps are found on it)."""
    steps = gray if levels is None else levels
    cx = _cell(_steps(steps, axis=1))
    cy = _cell(_steps(steps, axis=0)) if cx else None
    if cx is None or cy is None:
        return gray
    h, w = gray.shape
    small = Image.fromarray(np.ascontiguousarray(gray, np.float32), mode="F").resize(
        (max(round(w / cx), 1), max(round(h / cy), 1)), Image.Resampling.BOX
    )
    up = small.resize((w, h), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(up, np.float32), 0.0, 1.0)
