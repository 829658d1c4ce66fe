"""What the digit pipeline refuses to read, and why: random noise, a dot or a tap, a
short tick, a straight stroke too short to be a 1.

Each rule's threshold is a named constant beside the measurement that set it; the
browser's live pad applies the same size rule (ui/canvas.py sends these constants to
static/digitlens/verdict.mjs).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from model.errors import TooSmallError
from model.input.decode import WORKING_SIDE, SmallPng, to_float
from model.input.filters import stroke_width

#: "Too small to read" (measured on the realistic sets of training/renders.py, where
#: no digit comes within 10 % of these): ink whose longest side is under this many
#: stroke widths is a dot or a blob (a round tap measures 2.0; the most smeared
#: marker 8 on the canvas set 2.4) ...
MIN_EXTENT_STROKES = 2.2
#: ... or ink under this fraction of the image's longest side AND under
#: SHORT_MARK_STROKES widths long is a short tick (the smallest digits: 0.10 of a
#: photo at 4+ widths, or 0.14 at 3.1) ...
SHORT_MARK_FRACTION = 0.12
SHORT_MARK_STROKES = 3.5
#: ... and any mark under this fraction of the longest side is too small to read.
MIN_EXTENT_FRACTION = 0.05
#: A single straight stroke (its ink spread across its own axis by
#: under STRAIGHT_SPREAD stroke widths: a clean bar measures 0.29, a short straight
#: stroke at most 0.46) shorter than SHORT_STROKE_FRACTION of the image's longest side
#: is a short stroke, not a 1. Where the line is drawn: issue #9's short stroke is
#: 10-40 pixels (plus its pen) on the 280-pixel canvas, at most 0.154 of it measured
#: on 1,000 of them; a written 1 is as tall as a digit, and on the realistic sets no
#: canvas 1 is under 0.26 of the canvas, but the smallest photographed ones are: 6 and
#: 10 in 1,000 photos (two seeds; straight 1s at 0.14-0.16 of the photo) fall under the
#: line and are refused ("if it is a 1, write it larger") rather than answered.
SHORT_STROKE_FRACTION = 0.16
STRAIGHT_SPREAD = 0.5
#: Random noise, not a drawing: the median absolute difference between neighbouring
#: pixels of the working copy (0..1). Uniform noise measures 0.19 in colour, 0.29 grey
#: (28-448 pixels a side); every realistic digit set of training/renders.py at most
#: 0.016 (photos with grain, blur and JPEG included): a drawing's edges are too few to
#: move a median. Noise larger than WORKING_SIDE is averaged down when shrunk (2000
#: pixels a side: 0.04-0.06 on the working copy), so a larger image is also measured on
#: a window of its own pixels (NOISE_WINDOW, centred), where noise of any size measures
#: as above (`python -m benchmarks.large_noise`).
NOISE_TEXTURE = 0.08
#: Side of that native-resolution window: the working side, so a large image costs one
#: more working-copy-sized count (~0.2 ms), and an image that needs no shrinking none.
NOISE_WINDOW = WORKING_SIDE
#: What a noise refusal says (single digits and numbers alike).
NOISE_MESSAGE = "the image looks like random noise: no strokes were found on it"


def texture(gray: np.ndarray) -> float:
    """Median absolute difference between neighbouring pixels of (h, w) values in [0, 1].

    About 0 for drawings and photos of paper, ~0.19 for uniform noise. Every second row
    (and column) is enough for a median and halves the cost.
    """
    d = _neighbour_differences(gray)
    return float(np.median(d)) if d.size else 0.0


def _neighbour_differences(gray: np.ndarray) -> np.ndarray:
    """|differences| between horizontal and vertical neighbours, every second row/column."""
    if min(gray.shape) < 2:
        return np.zeros(0, np.float32)
    rows, cols = gray[::2], gray[:, ::2]
    dx = cv2.absdiff(rows[:, 1:], rows[:, :-1]).ravel()
    dy = cv2.absdiff(cols[1:], cols[:-1]).ravel()
    return np.concatenate([dx, dy])


def _central_window(img: Image.Image, side: int) -> Image.Image:
    """The centred crop of at most `side` x `side` pixels of `img`, at its own resolution."""
    w, h = img.size
    x0, y0 = max((w - side) // 2, 0), max((h - side) // 2, 0)
    return img.crop((x0, y0, x0 + min(side, w), y0 + min(side, h)))


def _opaque(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Luminance as seen over black: transparent pixels count as background."""
    return gray if alpha is None else gray * alpha


def is_noise(img: Image.Image, gray: np.ndarray, alpha: np.ndarray | None) -> bool:
    """Noise on the working copy (gray, alpha) or, if `img` was shrunk to make it, on
    a NOISE_WINDOW window of `img` at its own resolution (shrinking averages noise away).
    A small PNG, whose planes are the working copy: `small_png_is_noise`."""
    if not too_dark_for_noise(gray) and looks_like_noise(_opaque(gray, alpha)):
        return True
    if max(img.size) <= WORKING_SIDE:
        return False  # the working copy is the image: nothing was averaged
    return looks_like_noise(_opaque(*to_float(_central_window(img, NOISE_WINDOW))))


def small_png_is_noise(small: SmallPng) -> bool:
    """`is_noise` of a small PNG (its planes are the working copy), its colour read only
    where the count below cannot decide: seen over black, a transparent pixel is black, so
    where the PNG has alpha the pixels that are not black are among those whose alpha is
    not 0, and `too_dark_for_noise` holds on alpha wherever it holds on the luminance
    over black. A canvas (5-10 % of it drawn) is decided by its alpha alone."""
    bound = small.levels if small.alpha_levels is None else small.alpha_levels
    if too_dark_for_noise(bound):
        return False
    return looks_like_noise(_opaque(small.gray, small.alpha))


def too_dark_for_noise(gray: np.ndarray) -> bool:
    """Whether `looks_like_noise` must answer False for `gray` (or for it seen over black,
    `_opaque`) because at most one in eight of its pixels is not black (a canvas: 5-10 %).

    A difference above the threshold needs a pixel that is not black at one of its ends,
    and each pixel is an end of at most two of the differences counted along the rows
    and two down the columns: at most 4 x (pixels not black) of them exceed it, which is
    not more than half of them. One count instead of the differences."""
    if min(gray.shape) < 2:
        return True
    h, w = gray.shape
    counted = (h + 1) // 2 * (w - 1) + (h - 1) * ((w + 1) // 2)  # as looks_like_noise
    if gray.dtype != np.uint8:
        gray = np.ascontiguousarray(gray, np.float32)
    return 2 * 4 * cv2.countNonZero(gray) <= counted


def looks_like_noise(gray: np.ndarray) -> bool:
    """`texture(gray) > NOISE_TEXTURE`, decided by counting instead of a median: the
    median exceeds the threshold exactly when more than half the differences do
    (a comparison is several times cheaper than the partial sort a median needs). The
    differences are those of `_neighbour_differences`, counted where they are made."""
    if min(gray.shape) < 2:
        return False
    rows, cols = gray[::2], np.ascontiguousarray(gray[:, ::2])
    over = np.count_nonzero(cv2.absdiff(rows[:, 1:], rows[:, :-1]) > NOISE_TEXTURE)
    over += np.count_nonzero(cv2.absdiff(cols[1:], cols[:-1]) > NOISE_TEXTURE)
    size = rows.shape[0] * (rows.shape[1] - 1) + (cols.shape[0] - 1) * cols.shape[1]
    return 2 * int(over) > size


def straight_spread(kept: np.ndarray, width: float) -> float:
    """How far (h, w) bool ink spreads across its principal axis, in stroke widths.

    The standard deviation of the ink's pixel positions along the minor axis of their
    covariance: a straight bar of width w measures w / sqrt(12), i.e. 0.29 widths; any
    bend, hook or second stroke adds to it.
    """
    yy, xx = np.nonzero(kept)
    if len(yy) < 3:
        return 0.0
    cov = np.cov(np.stack([yy, xx]).astype(np.float64))
    minor = float(np.linalg.eigvalsh(cov)[0])
    return float(np.sqrt(max(minor, 0.0))) / max(width, 1.0)


def is_short_straight_stroke(kept: np.ndarray, width: float, fraction: float) -> bool:
    """Straight ink (a stroke, or dashes along one line) under SHORT_STROKE_FRACTION."""
    return fraction < SHORT_STROKE_FRACTION and straight_spread(kept, width) < STRAIGHT_SPREAD


#: A large mark as wide as it is long (ink filled in, a scribbled-over area).
BLOB_MESSAGE = (
    "the mark is a filled area, not pen strokes: there is no digit's shape in it to read; "
    "draw the digit as a line"
)


def check_size(
    kept: np.ndarray, work_hw: tuple[int, int], pen: bool = True, paper_side: int | None = None
) -> None:
    """Raise TooSmallError for a dot, a tap or a short tick: nothing there to read; and
    for a large filled area (`BLOB_MESSAGE`), no strokes to read either.

    kept: (h, w) bool, the kept ink inside its bounding box (working pixels).
    pen: the model reads pen strokes (the digit recipe). A model of filled things
    (Fashion-MNIST: a bag, a shirt) reads a large filled area: it is refused only what is
    small (a dot, a tap, a short tick: under 12 % of the side and 3.5 stroke widths, or
    under 5 %) and a single short straight stroke. The pen's rule "under 2.2 stroke widths
    long" had refused 105 of Fashion-MNIST's 10,000 test images as a filled area or as too
    small; without the small-mark rules, its detector answered 11 % of short strokes as
    clothing (it never trained on them).
    paper_side: the longest side of the sheet the ink lies on, where a photo's sheet was
    found (`model.input.sheet`): sizes are measured against the page, not the photo (a
    written 1 a third of its page was refused as a short stroke in a photo of the page
    on a desk: 87 of 89 such 1s, a user test).
    """
    extent = float(max(kept.shape))
    width = stroke_width(kept)
    strokes = extent / max(width, 1.0)  # length in stroke widths
    fraction = extent / float(paper_side or max(work_hw))  # (a sheet's: a mark on the page)
    if pen and strokes < MIN_EXTENT_STROKES and fraction >= SHORT_MARK_FRACTION:
        # (as wide as it is long, and large: a filled area, not a dot; it was called one)
        raise TooSmallError(BLOB_MESSAGE)
    if fraction < MIN_EXTENT_FRACTION and strokes >= SHORT_MARK_STROKES:
        # (strokes, but a speck of a wide picture: a clear 7 in a 4000x280 strip was told to
        # be drawn larger, when the picture wanted cropping, a user test)
        raise TooSmallError(
            "the mark is too small to read for the size of the picture (under "
            f"{MIN_EXTENT_FRACTION:.0%} of its longest side): "
            + ("write it larger" if pen else "show it larger")
            + ", or crop the picture closer to it"
        )
    if (
        (pen and strokes < MIN_EXTENT_STROKES)
        or fraction < MIN_EXTENT_FRACTION
        or (fraction < SHORT_MARK_FRACTION and strokes < SHORT_MARK_STROKES)
    ):
        raise TooSmallError(
            "the mark is too small to read (a dot or a short tick); "
            + ("draw or write the whole digit, larger" if pen else "show the whole thing, larger")
        )
    if is_short_straight_stroke(kept, width, fraction):
        raise TooSmallError(
            "the mark is a single short stroke, too small to read"
            + ("; if it is a 1, write it larger" if pen else "")
        )
