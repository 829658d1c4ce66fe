"""The light of a photo or a drawing taken off its ink (`model.input.preprocessing`'s
ink map, before its mask): which side is paper, the paper's level and its uneven light (a
white top-hat where the light varies), then the paper's grain and the noise floor, the
rest stretched to full strength. A number shares the first step and stretches each of
its digits on its own (`model.input.segment`)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import cv2
import numpy as np

from model.input.filters import (
    gaussian,
    grid_sample,
    histogram,
    max_filter,
    median,
    percentile,
    smooth_opening,
    sorted_percentile,
)
from model.input.resample import resize
from model.input.sheet import border_pixels, desk_at_an_edge, may_hold_a_sheet, on_sheet

Polarity = Literal["dark-on-light", "light-on-dark", "alpha"]

#: The lighting correction (a top-hat) runs on a copy whose longest side is this.
TOPHAT_SIDE = 64
#: ... and only where the background it finds varies by more than this (0..1), and so does
#: the paper itself (below): on a flat field (the canvas, a scan) it would only hollow out
#: thick strokes.
UNEVEN_LIGHT = 0.08
#: The paper is the pixels of that copy farther than 1/this of its side from any ink at
#: half the peak's strength; its light varies by its 2nd..98th percentiles. Strokes that
#: fill the frame (a scan scaled up, a tight crop) make the opening's background uneven
#: though the paper is flat. The paper's own spread: photos 0.05-0.44 (5th percentile
#: 0.12), scaled-up 8x8 scans 0-0.05 (95th percentile); 0.06-0.12 as its threshold read
#: every set the same. At 1/16, the soft rims of blurry strokes count as paper
#: (docs/reference/honesty.md).
PAPER_DISTANCE_DIV = 8
#: With less paper than this share of the copy, nothing says the light is uneven.
MIN_PAPER = 0.05
#: Ink at least this fraction of the peak is "strong" (shadows on paper stay below it) ...
STRONG_INK = 0.8
#: ... and if the top-hat more than halves this share of it, the strokes were taken for
#: background (a tight marker crop: 0.4-1.0 here; photos and fonts: < 0.3), so a wider
#: opening is used instead.
HOLLOW_MAX = 0.3
#: ... counting only strong ink within 1/this of the image of what the top-hat kept
#: (shadows lie farther away; 3 keeps every photo and font case of the realistic sets).
NEAR_STROKE_DIV = 3
#: Below this contrast (0..1) between ink and background there is nothing drawn.
MIN_CONTRAST = 0.12
#: The share (percent) of an image's darkest and lightest pixels that says which side
#: of the paper its ink is (`_paper_is_light`).
TAIL_SHARE = 1.0
#: ... among about this many of its pixels, taken on a regular grid (a quarter of a
#: 448-pixel photo's pixels cost 1.7 ms; a stroke still crosses the grid many times).
TAIL_SAMPLE = 2048
#: The border's level says which side is paper, unless ink crosses more than this share
#: of it (a marker 0 filling the frame, cut by every edge: its border is mostly ink) ...
FRAME_INK = 0.25
#: ... the border's two sides differing by this much (not paper split by its noise) ...
FRAME_CONTRAST = 0.3
#: ... then the ink is the side over this many times thinner than the other in its
#: widest place (the largest disc inside it, on a copy smoothed over 1/`FRAME_SMOOTH_DIV`
#: of its side, so that noise does not break paper into specks): a pen's stroke.
THINNER = 3.0
FRAME_SMOOTH_DIV = 150
#: A sheet found is read again, its desk painted over, and may hold another sheet: at
#: most this many are looked for (each paints the rest flat, so one more is rare).
MAX_SHEETS = 3


def _resize(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Antialiased resize of a float map (area filter down, bilinear up)."""
    if a.shape == tuple(hw):
        return a.astype(np.float32, copy=True)
    return resize(a, hw, box=hw[0] < a.shape[0] or hw[1] < a.shape[1])


class Lit(NamedTuple):
    """`lit_ink`'s answer: the ink, its polarity, and the longest side in pixels of the
    sheet it lies on where a sheet was found in the photo (`model.input.sheet`), else None
    (the paper is the whole image)."""

    ink: np.ndarray
    polarity: Polarity
    paper_side: int | None = None


def lit_ink(gray: np.ndarray, strokes: bool = True, _sheets: int = MAX_SHEETS) -> Lit:
    """(ink, polarity, paper_side) with the paper's level and its uneven light taken off
    (`ink_map` before its noise floor): (h, w) float32, about 0 on the paper, ink positive.
    A number's digits share it (`model.input.segment`), each then `stretched` on its own."""
    h, w = gray.shape
    border = border_pixels(gray)
    border_level = median(border)
    dark_on_light = _paper_is_light(gray, border, border_level)
    level = _frame_filling_ink(gray, border, dark_on_light) if strokes else None
    # A light sheet on a darker desk, on a light desk darker than its paper, or filling
    # the frame but for a strip of desk along an edge
    if strokes and level is None and _sheets > 0:
        sheet, otsu = None, None
        if not dark_on_light or may_hold_a_sheet(gray, border_level):
            otsu = _otsu(gray[::2, ::2].ravel())
            sheet = on_sheet(gray, otsu, border_level)
        desk = desk_at_an_edge(gray, border) if sheet is None else None
        if desk is not None:
            otsu = _otsu(gray[::2, ::2].ravel()) if otsu is None else otsu
            sheet = on_sheet(gray, otsu, desk, at_edge=True)
        if sheet is not None:
            # (its border is the sheet's: read once more)
            lit = lit_ink(sheet.page, strokes, _sheets - 1)
            return lit if lit.paper_side is not None else lit._replace(paper_side=sheet.side)
    if level is not None:
        dark_on_light = not dark_on_light
        # The paper's level: the median of the border's paper side.
        border_level = median(border[(border > level) == dark_on_light])
    x = 1.0 - gray if dark_on_light else gray
    polarity = "dark-on-light" if dark_on_light else "light-on-dark"

    # Background estimate on a coarse grid: the opening removes everything narrower
    # than ~1/5 of the image (strokes), keeping the slow lighting gradient.
    background_level = 1.0 - border_level if dark_on_light else border_level
    ink = x - background_level
    if strokes:
        # Background estimate on a coarse grid: the opening removes everything narrower
        # than a third of the image (strokes), keeping slow lighting gradients and shadows.
        f = TOPHAT_SIDE / max(h, w)
        small = _resize(x, (max(int(h * f), 1), max(int(w * f), 1)))
        size = max(TOPHAT_SIDE // 3, 3)
        background = smooth_opening(small, size)
        # Only uneven light needs the top-hat; on a flat field (the canvas, a scan) it
        # would only hollow out very thick strokes. Strokes that fill the frame lift the
        # opening too, so the paper away from the ink must vary as well.
        if (
            float(np.ptp(background)) > UNEVEN_LIGHT
            and paper_unevenness(small, background_level) > UNEVEN_LIGHT
        ):
            tophat = x - _resize(background, (h, w))
            if _hollowed(ink, tophat) >= HOLLOW_MAX:
                # Strokes as wide as the opening (a tight crop of a marker digit): a
                # wider opening keeps them whole and still follows the lighting.
                big = max(TOPHAT_SIDE * 2 // 3, 3)
                background = smooth_opening(small, big)
                tophat = x - _resize(background, (h, w))
            ink = tophat
    return Lit(ink, polarity)


def _paper_is_light(gray: np.ndarray, border: np.ndarray, border_level: float) -> bool:
    """Whether the ink is darker than the paper. A border over half is paper (the ink of a
    phone photo is often under 1 % of it: its darkest pixels are paper too, so nothing
    else is trusted there). A darker border is taken for paper all the same where the
    image strays from its level much further below than above (TAIL_SHARE of its pixels
    at each end; by more than MIN_CONTRAST and by more than the border's own spread,
    which a lighting gradient widens and ink crossing the border widens further): grey
    paper in a dim photo, at 0.39, was taken for a dark ground and its black 7 for
    nothing. Ink that crosses the border is `_frame_filling_ink`'s to find."""
    if border_level > 0.5:
        return True
    edge = np.sort(border)
    spread = sorted_percentile(edge, 90) - sorted_percentile(edge, 10)
    sample = np.sort(grid_sample(gray, TAIL_SAMPLE), axis=None)
    darker = border_level - sorted_percentile(sample, TAIL_SHARE)
    lighter = sorted_percentile(sample, 100 - TAIL_SHARE) - border_level
    return darker - lighter > max(MIN_CONTRAST, spread)


def stretched(ink: np.ndarray) -> np.ndarray:
    """`lit_ink`'s ink -> [0, 1] (`ink_map`'s last step): paper grain and sensor noise
    taken off by a light blur, then everything below a noise floor goes to zero and the
    rest is stretched to full strength."""
    h, w = ink.shape
    ink = gaussian(ink, sigma=max(min(h, w) / 400, 0.5), truncate=2.5)
    # Statistics on every other pixel: the same levels at a quarter of the cost.
    sample = ink[::2, ::2]
    peak = percentile(sample, 99.9)
    if peak < MIN_CONTRAST:
        # A mark under a thousandth of the image (a small digit on a page photographed
        # whole): that percentile is the paper's, and it was "blank" (a user test: 25 of
        # 50 such photos). Its strongest ten-thousandth, on every pixel, is the mark's.
        peak = percentile(ink, 99.99)
        if peak < MIN_CONTRAST:
            return np.zeros_like(ink, dtype=np.float32)
    positive = sample[sample > 0]
    floor = max(_otsu(positive) * 0.5, 0.25 * peak) if positive.size else peak
    ink = np.clip((ink - floor) / max(peak - floor, 1e-6), 0.0, 1.0)
    return ink.astype(np.float32)


def _frame_filling_ink(gray: np.ndarray, border: np.ndarray, dark_on_light: bool) -> float | None:
    """Otsu's level of `gray` where the side of it that the border's level calls paper is
    really the ink, else None: on the border (split at its own Otsu level: a cheap test,
    as almost every image stops here) that side's other crosses more than `FRAME_INK` of
    it and the two differ by `FRAME_CONTRAST`; and it is more than `THINNER` times as
    thin as the other side (the largest disc inside each, by a distance transform)."""
    if float(border.max()) - float(border.min()) < FRAME_CONTRAST:
        return None  # no two levels that far apart (the test below, decided at once)
    light = border > _otsu(border)
    if light.all() or not light.any():
        return None  # one level all round (Otsu's split of a flat border)
    if np.count_nonzero(~light if dark_on_light else light) <= FRAME_INK * border.size:
        return None  # clearly paper
    if median(border[light]) - median(border[~light]) < FRAME_CONTRAST:
        return None  # paper that noise splits round its own level
    level = _otsu(gray[::2, ::2].ravel())
    smooth = gaussian(gray, sigma=max(gray.shape) / FRAME_SMOOTH_DIV, truncate=2.5)
    widest = [
        float(cv2.distanceTransform(side.view(np.uint8), cv2.DIST_L2, 3).max())
        for side in (smooth > level, smooth <= level)
    ]
    paper, ink = widest if dark_on_light else widest[::-1]
    return level if paper < ink / THINNER else None


def paper_unevenness(x: np.ndarray, background_level: float) -> float:
    """How much the light varies on the paper alone: the 2nd..98th percentile spread of
    `x` (ink bright, (h, w) float32) on pixels farther than 1/PAPER_DISTANCE_DIV of its
    side from any half-strength ink; 0 when less than MIN_PAPER of it is that far."""
    peak = percentile(x, 99.9)
    inky = x > background_level + 0.5 * (peak - background_level)
    r = max(max(x.shape) // PAPER_DISTANCE_DIV, 1)
    paper = ~max_filter(inky, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    if np.count_nonzero(paper) < MIN_PAPER * paper.size:
        return 0.0
    v = x[paper]
    return percentile(v, 98) - percentile(v, 2)


def _hollowed(flat: np.ndarray, tophat: np.ndarray) -> float:
    """Share of the strongest ink (above a flat background) that the top-hat more than halves.

    Shadows are weaker than ink, and lie away from the strokes the top-hat kept, so
    they are not counted; the insides of thick strokes (whose edges it kept) are.
    """
    strong = flat > STRONG_INK * percentile(flat[::2, ::2], 99.9)
    kept = tophat > 0.5 * percentile(tophat[::2, ::2], 99.9)
    near = max(max(flat.shape) // NEAR_STROKE_DIV, 3)
    strong &= max_filter(kept, np.ones((near, near), np.uint8))
    if not strong.any():
        return 0.0
    return float((tophat[strong] < 0.5 * flat[strong]).mean())


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold of a 1-D sample."""
    hist, edges = histogram(values, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    mass = hist * centres
    below = np.cumsum(mass)
    m0 = below / np.maximum(w0, 1)
    m1 = (mass.sum() - below) / np.maximum(w1, 1)
    return float(centres[np.argmax(w0 * w1 * (m0 - m1) ** 2)])
