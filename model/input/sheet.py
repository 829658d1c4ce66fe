"""A light sheet on a darker surface: a photo of a page on a desk.

`lighting.lit_ink` takes the paper's side from the image's border. A photo of a sheet
lying on a dark table has the table all round it: the border says "light ink on a dark
ground", and the whole sheet was read as one stroke, the digit on it as a hole in it (a
sheet with a 7 on a grey table: right 11 times in 100, "not a digit" 84 times).

`on_sheet` finds such a sheet (one large, nearly rectangular light region, clearly lighter
than the border, holding a few darker marks) and gives the image back with everything
round the sheet painted in the sheet's own level: a page of paper, read as one. A rounded
or unevenly lit light surface (a digit written on a palm, a paper cup, a page under a
phone's flash) is read the same way where its marks are clearly pen strokes.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from model.input.filters import grid_sample, median, sorted_percentile

#: The sheet covers at least this share of the image (a sticky note in a photo: 2-10 %;
#: at 0.1, then at 0.05, notes were no sheet: two user tests) ...
MIN_AREA = 0.02
#: ... is lighter than the border by at least this much (0..1: a page on a light grey
#: desk, 0.15-0.3; 0.25 turned a third of them away, a helper's photos) ...
MIN_CONTRAST = 0.15
#: ... fills this share of its smallest enclosing rectangle at least (a page in strong
#: perspective, a trapezoid: 0.75-0.85; 0.85 turned away most of them, a helper's test) ...
MIN_RECTANGULAR = 0.7
#: ... and this share of its convex hull: it is convex (a page, a trapezoid: ~1; the
#: corners below turn away an ellipse, a drawn "0" with its hole filled) ...
MIN_CONVEX = 0.95
#: ... and its darker marks (the ink, the holes inside it) are at most this share of it
#: (a page: a few percent; a thick drawn ring filled in: its hole, far more) ...
MAX_MARKS = 0.3
#: ... and at least this share (a blank page has nothing to read).
MIN_MARKS = 0.001
#: Its paper is even: its 5th to 95th percentiles at most this far apart (photographed
#: paper 0.02-0.15; a garment's folds and prints, which it would take for ink, more) ...
MAX_PAPER_SPREAD = 0.25
#: ... and wider than its marks, this many times at least in their widest places (the
#: largest disc inside each): ink is strokes on a page, the hole of a thick ring is not.
WIDER = 3.0
#: A rounded light surface (a palm, a paper cup, a phone flash's hotspot on a page: its
#: outline has more corners than a page, or its light spreads beyond MAX_PAPER_SPREAD) is
#: read as a page too, its lighter rim and its surroundings painted in its level, where
#: its marks are pen strokes: far thinner than it, this many times at least (a helper's
#: palms and hotspots: 6-17; the narrow counter of a heavy white glyph photographed on
#: black, 3.2-4.0: read as a page, a bold 0 was "1, digit") ...
SURFACE_WIDER = 6.0
#: ... covering this share of it at least (a speck on a blob is no digit) ...
SURFACE_MIN_MARKS = 0.005
#: ... with its light spread at most this far (a flash's fall-off: 0.26-0.39).
SURFACE_SPREAD = 0.4
#: A sheet on a desk reaches at most this many of the image's four sides (a corner of
#: the page cut off by the frame); a thick ring cropped tight reaches all four.
MAX_SIDES = 2
NEAR_SIDE = 0.02
#: Its outline is a few straight edges: at most this many corners once bends shallower
#: than `STRAIGHT` of its perimeter are straightened (a page: 4, 5-6 cut by the frame; a
#: ring drawn with a marker, a garment, a palm: more, and judged as a surface above).
MAX_CORNERS = 6
STRAIGHT = 0.02
#: Photographed paper has grain: its middle half of levels spans at least this (a level
#: of 255 is 0.0039); a flat fill (a bold glyph drawn white on black, its narrow slots
#: taken for ink: an "8" read "5, digit", a review) has none.
FLAT = 0.5 / 255
#: ... judged first on about this many of the light pixels (before any component is made).
SAMPLE = 4096
#: The sheet's edge (its shadow, its curl) is left out: this share of its smaller side.
EDGE = 0.03
#: A page filling the frame but for a strip of desk: its edge is a step, the levels in
#: bands of this share of the image's side on either side of it this share of its
#: contrast with the desk apart at least.
RING = 0.01
SHARP = 0.5


def may_hold_a_sheet(gray: np.ndarray, border_level: float) -> bool:
    """Whether `MIN_AREA` of `gray` at least (on a sample) is lighter than its border by
    `MIN_CONTRAST`: what a sheet on a desk darker than its paper needs (a light grey desk
    too, whose border passes for paper: the sheet's shadow along its edges was read as
    strokes). Most photos stop here: their border is their paper."""
    if border_level > 1.0 - MIN_CONTRAST:
        return False
    sample = grid_sample(gray, SAMPLE)
    return np.count_nonzero(sample > border_level + MIN_CONTRAST) >= MIN_AREA * sample.size


class Sheet(NamedTuple):
    """A sheet found in a photo: the image with its desk painted in the paper's level, and
    the sheet's longest side in pixels (what the size of a mark on it is measured by)."""

    page: np.ndarray
    side: int


def border_pixels(gray: np.ndarray) -> np.ndarray:
    """The (h, w) image's outermost rows and columns, one after the other (1-D)."""
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def sides_levels(gray: np.ndarray) -> tuple[float, float, float, float]:
    """The median level of the image's top, bottom, left and right edges."""
    return (median(gray[0]), median(gray[-1]), median(gray[:, 0]), median(gray[:, -1]))


def desk_at_an_edge(gray: np.ndarray, border: np.ndarray) -> float | None:
    """The level of the darkest edge of the frame where it is darker than another edge by
    `MIN_CONTRAST`, else None: a page filling the photo but for a strip of desk along an
    edge (its border, mostly paper, passed for paper, and the strip was read as a stroke:
    "1, 100 %", two helpers' tests). `on_sheet(..., desk=that, at_edge=True)` decides."""
    if float(border.max()) - float(border.min()) < MIN_CONTRAST:
        return None  # (one level all round: most photos and drawings stop here)
    levels = sides_levels(gray)
    return min(levels) if max(levels) - min(levels) >= MIN_CONTRAST else None


def on_sheet(
    gray: np.ndarray, level: float, desk: float | None = None, at_edge: bool = False
) -> Sheet | None:
    """gray (h, w) float32 in [0, 1] whose border is darker than its paper would be, and
    `level`: Otsu's threshold of it -> the image with everything outside the largest
    light region painted in that region's level, and that region's longest side, where it
    is a sheet holding marks; else None. The cheap tests come first: most images asked
    are light strokes drawn on a dark ground, refused by their flat fill before any
    component is made. desk: the level the sheet must stand out from, where the caller
    has it (None: the border's median, or at an edge the darkest edge's level).

    at_edge: the page fills the frame but for a strip of desk along an edge or two
    (`desk_at_an_edge`): it may reach every side, the darkest edge is the desk, and the
    page must end in a sharp step down to it (`SHARP`: a gradient of light across a page
    has an edge as straight, and the ink beyond it would be painted over)."""
    light = (gray > level).view(np.uint8)
    lit = gray[light.view(bool)]
    lit = np.sort(lit[:: max(1, lit.size // SAMPLE)])  # (its levels on a sample: cheap)
    if lit.size == 0 or sorted_percentile(lit, 75) - sorted_percentile(lit, 25) < FLAT:
        return None  # a flat fill: drawn (bold white strokes), not a photographed page
    n, labels, stats, _ = cv2.connectedComponentsWithStats(light, connectivity=8)
    if n < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[biggest, :4])
    b = max(2, round(NEAR_SIDE * max(gray.shape)))  # (within a few pixels of a side)
    H, W = gray.shape
    sides = (y < b, y + h > H - b, x < b, x + w > W - b)
    if sum(sides) > (4 if at_edge else MAX_SIDES) or w * h < MIN_AREA * gray.size:
        return None
    region = (labels == biggest).view(np.uint8)
    levels = np.sort(gray[region.view(bool)])
    paper = sorted_percentile(levels, 50)
    if sorted_percentile(levels, 75) - sorted_percentile(levels, 25) < FLAT:
        return None  # (the largest light region alone: flat too)
    spread = sorted_percentile(levels, 95) - sorted_percentile(levels, 5)
    if spread > SURFACE_SPREAD:
        return None
    if desk is None:
        desk = min(sides_levels(gray)) if at_edge else median(border_pixels(gray))
    if paper - desk < MIN_CONTRAST:
        return None
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea)
    corners = cv2.approxPolyDP(outline, STRAIGHT * cv2.arcLength(outline, True), True)
    surface = len(corners) > MAX_CORNERS or spread > MAX_PAPER_SPREAD  # (rounded, uneven)
    if surface and at_edge:
        return None
    sheet = np.zeros_like(region)
    cv2.drawContours(sheet, [outline], -1, 1, thickness=cv2.FILLED)
    area = np.count_nonzero(sheet)
    (_, _), (rw, rh), _ = cv2.minAreaRect(outline)
    hull = cv2.contourArea(cv2.convexHull(outline))
    if area < max(MIN_AREA * gray.size, MIN_RECTANGULAR * rw * rh, MIN_CONVEX * hull):
        return None
    marks = cv2.subtract(sheet, light)  # (a loop's inside is light: paper, not a mark)
    fewest = SURFACE_MIN_MARKS if surface else MIN_MARKS
    if not fewest * area <= np.count_nonzero(marks) <= MAX_MARKS * area:
        return None
    widest = [float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max()) for m in (region, marks)]
    if widest[0] < (SURFACE_WIDER if surface else WIDER) * widest[1]:
        return None
    if at_edge and not sharp_edge(gray, sheet, paper - desk):
        return None
    r = max(int(EDGE * min(rw, rh)), 1)
    inside = cv2.erode(sheet, np.ones((2 * r + 1, 2 * r + 1), np.uint8)).view(bool)
    page = np.where(inside, gray, np.float32(paper)).astype(np.float32)
    return Sheet(page, max(w, h))


def sharp_edge(gray: np.ndarray, sheet: np.ndarray, contrast: float) -> bool:
    """Whether the sheet's edge inside the frame is a step: the levels just inside it and
    just outside it (a band of `RING` of the image's side each) differ by `SHARP` of the
    sheet's contrast with the desk at least. A page's edge on a desk does (~1); the line
    where a gradient of light crosses Otsu's level does not (a few percent)."""
    r = max(2, round(RING * max(gray.shape)))
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    # (erosion and dilation treat the frame's outside as neither: no ring along it)
    grown = cv2.dilate(sheet, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    shrunk = cv2.erode(sheet, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    outside, inside = cv2.subtract(grown, sheet).view(bool), cv2.subtract(sheet, shrunk)
    if not outside.any() or not inside.any():
        return False
    return median(gray[inside.view(bool)]) - median(gray[outside]) >= SHARP * contrast
