"""A number's digit cut out alone (`model.input.segment`): as the image shows it, its
neighbours' ink painted over with the paper around it (what is shown; from the number's
lit ink map the same way, what it is read from), or, where transparency holds the
strokes, its own ink on black."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import cv2
import numpy as np

from model.input.filters import median
from model.input.preprocessing import _padded

#: Other pieces' ink is painted over this far around their mask (their soft edges).
OTHER_INK = np.ones((5, 5), np.uint8)


def alone(
    ink: np.ndarray, box: tuple[int, int, int, int], mask: np.ndarray, margin: float
) -> np.ndarray:
    """The piece's soft ink alone (its own pixels, a 1-pixel halo), with a margin (a share
    of its longest side) of black."""
    x0, y0, x1, y1 = box
    halo = cv2.dilate(mask[y0:y1, x0:x1].view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    crop = ink[y0:y1, x0:x1] * halo
    pad = max(int(margin * max(crop.shape)), 2)
    return _padded(crop, pad)


def alone_gray(
    gray: np.ndarray,
    box: tuple[int, int, int, int],
    own: np.ndarray,
    mask: np.ndarray,
    margin: float,
    origin: tuple[int, int] = (0, 0),
    paper: float | None = None,
) -> np.ndarray:
    """The piece as the image shows it (its paper, light and pen), every other piece's ink
    painted over with the paper around it: what a photo of this digit alone would look
    like, shown beside its answer and read alone where the piece is too large for a
    working copy (`model.number.piece_stages`). `box`, `own` and `mask` are in the search
    window at `origin` (x, y) of `gray` (`model.input.segment._window`). paper: its level
    where known (0 on a map with the paper taken off, `lit_ink`); None: the median of the
    crop away from any ink."""
    return _painted(*_area(gray, box, own, mask, margin, origin), paper)


def alone_gray_later(
    gray: np.ndarray,
    box: tuple[int, int, int, int],
    own: np.ndarray,
    mask: np.ndarray,
    margin: float,
    origin: tuple[int, int] = (0, 0),
) -> Callable[[], np.ndarray]:
    """`alone_gray`, made when called (a picture that is only shown): it holds copies of
    the piece's padded area and of the ink there, not the image and its masks (a reading
    kept by a page would otherwise keep every working copy), and it pickles."""
    crop, others, mine, at, shape = _area(gray, box, own, mask, margin, origin)
    return partial(_painted, crop.copy(), others.copy(), mine.copy(), at, shape)


def _area(
    gray: np.ndarray,
    box: tuple[int, int, int, int],
    own: np.ndarray,
    mask: np.ndarray,
    margin: float,
    origin: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int], tuple[int, int]]:
    """The piece's padded area of `gray` (a view), the ink of every piece and its own
    there, where the area sits in the picture (top, left) and the picture's shape."""
    ox, oy = origin
    x0, y0, x1, y1 = box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy
    pad = max(int(margin * max(x1 - x0, y1 - y0)), 2)
    h, w = gray.shape
    a0, b0, a1, b1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
    area = (a0 - ox, b0 - oy, a1 - ox, b1 - oy)
    # Margin where the crop met the image's edge, so the digit never touches the border.
    top, left = pad - (y0 - b0), pad - (x0 - a0)
    shape = (b1 - b0 + top + y1 + pad - b1, a1 - a0 + left + x1 + pad - a1)
    return gray[b0:b1, a0:a1], region(mask, area), region(own, area), (top, left), shape


def _painted(
    crop: np.ndarray,
    others: np.ndarray,
    mine: np.ndarray,
    at: tuple[int, int],
    shape: tuple[int, int],
    paper: float | None = None,
) -> np.ndarray:
    """`_area`'s crop with the other pieces' ink painted over, on paper of `shape`."""
    crop = crop.copy()
    near = cv2.dilate(others.view(np.uint8), OTHER_INK) > 0
    if paper is None:
        paper = median(crop[~near]) if (~near).any() else median(crop)
    own = cv2.dilate(mine.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    crop[near & ~own] = paper
    # (np.pad's result, the paper level cast as np.pad casts it, without its overhead)
    out = np.full(shape, paper, crop.dtype)
    top, left = at
    out[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return out.astype(np.float32, copy=False)


def region(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """mask[y0:y1, x0:x1] for a box that may reach past the mask's edges (False there)."""
    x0, y0, x1, y1 = box
    h, w = mask.shape
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return mask[y0:y1, x0:x1]
    out = np.zeros((y1 - y0, x1 - x0), bool)
    a0, b0, a1, b1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if a1 > a0 and b1 > b0:
        out[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0] = mask[b0:b1, a0:a1]
    return out
