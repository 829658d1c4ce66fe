"""A written number -> one piece of ink per digit, left to right.

    decode ─ working copy ─ ink map & mask (the digit pipeline's lighting correction, once)
           ─ connected components ─ merge the pieces of one digit ─ split touching ones

The mask keeps the faint ink joined to the strong (hysteresis: a thin pen's strokes) where
it joins no two digits. Specks (components far smaller than the largest) are dropped,
unless tall and thin (a 1) or, together with fragments near them (and with a kept stretch
too short to be a digit, a thin 5's flag), heavier than a speck and as tall as a digit
(a thin pen's broken digit beside a marker's). Merging: a component that lies mostly
above or below another (a 5's flag, a 7's crossbar, a 4 drawn in two strokes) belongs to
the same digit. Splitting: ink much wider than a digit is tall holds several digits; it is
cut at the emptiest columns near where evenly spaced digits would meet (the projection
profile), never through a loop's hole (a wide 0). Each piece is then cut from the
number's lit ink (its paper and uneven light taken off once, `lit_ink`), its neighbours'
ink painted over, and stretched on its own (`stretched`: its noise floor, its peak), as
the per-digit preprocessing treats a single digit after its lighting correction; the
image itself is cut the same way, for display (docs/tutorial/numbers.md: what else was
tried). A canvas whose transparency holds the strokes gives its ink map, white on black.

Kept as one file (but the count of lines of writing, `model.input.lines`): its steps run
top to bottom in the order above, and each rule's threshold was tuned against the others
on the same numbers (its comment says how).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import cv2
import numpy as np
from PIL import Image

from model.errors import BlankImageError, NoiseImageError
from model.input.cut import alone, alone_gray, alone_gray_later
from model.input.decode import (
    DRAFT_SCALE,
    MAX_PIXELS,
    WORKING_SIDE,
    ImageInput,
    decode,
    normalise_mode,
    shrink,
    to_float,
)
from model.input.lines import count_lines
from model.input.preprocessing import (
    FAINT_LEVEL,
    INK_LEVEL,
    SPECK_FRACTION,
    Polarity,
    lit_or_alpha,
    stretched,
)
from model.input.refusals import NOISE_MESSAGE, is_noise
from model.input.separators import separators

#: A number's working copy: its longest side at most NUMBER_SIDE (the benchmark's photos
#: keep digits 44-105 pixels tall), cut again at up to NUMBER_MAX_SIDE where a cut is in
#: doubt (`_in_doubt`) or its digits are under DIGIT_MIN_PIXELS tall (then DIGIT_PIXELS):
#: as one copy of up to 896 pixels read, 4-digit photos in 0.55-0.6x the time (numbers.md).
NUMBER_SIDE, NUMBER_MAX_SIDE = WORKING_SIDE, 2 * WORKING_SIDE
DIGIT_MIN_PIXELS, DIGIT_PIXELS = 48, 80
#: Components under this share of the largest one are specks (dust, a pen's dot) ...
SPECK_SHARE = SPECK_FRACTION  # as for one digit (`ink_mask`)
#: ... unless a thin upright stroke at least this share of the tallest one's height (a thin 1
#: beside a thick 8; the single-digit `ink_mask` drops it: 4 of 500 apart numbers lost one).
THIN_TALL = 0.5
#: Two components are one digit when their column ranges overlap by this share of the
#: narrower one (a 7's crossbar over its stem; a 4 drawn in two strokes).
MERGE_OVERLAP = 0.5
#: ... unless both are as tall as a digit (this share of the median height): then only
#: when one covers this share of the narrower one's columns.
TALL, COVER = 0.6, 0.85
#: ... or when they share this share of the wider one's columns (two digits side by side
#: never do: a slanted 1 leans over part of its neighbour, not over most of it).
SHARE_WIDER = 0.6
#: Ink wider than this many times its height holds more than one digit (MNIST digits:
#: width/height at most ~1.0 for a wide 0 or 2; two touching digits ~1.3 and more).
SPLIT_RATIO = 1.15
#: A cut whose piece is shorter than this share of the ink's height cuts a digit's part
#: off (a 5's flag, a 2's base), not one digit from the next.
CUT_MIN_HEIGHT = 0.6
#: A hole in the ink at least this share of its height across is a loop: no cut crosses
#: it (a wide 0 is one digit; two touching digits meet outside their loops). Measured as
#: for `LOOSE_TALL`'s rules, with them: 1,435 / 1,365 / 1,437 / 1,380 (12).
LOOP_HOLE = 0.1
#: Ink this many times wider than tall is hardly ever one digit.
WIDE = 1.4
#: The width of one digit, as a share of the number's height, used to count digits in
#: touching ink (MNIST's median width/height is ~0.65).
DIGIT_WIDTH = 0.7
#: A cut is sought this far (share of a digit's width) around each evenly spaced position.
CUT_WINDOW = 0.35
#: A stretch of ink shorter than this share of the number's median height is part of its
#: nearest neighbour (a 5's flag drawn apart, a 7's crossbar off to the side) ...
SMALL_HEIGHT = 0.5
#: ... when the gap between them is under this share of the median height.
ATTACH_GAP = 0.35
#: Two neighbours this close (share of a digit's height; the benchmark writes digits at
#: least ~0.06 apart) or stacked one above the other (rows overlapping by under
#: `STACKED` of the shorter) may be one digit drawn in two strokes (a broken 4, a 6's
#: stem): read both ways, they stay one digit unless the classifier clearly prefers two;
#: only where together they are no wider than one digit (`SPLIT_RATIO`).
NEAR_GAP = 0.04
STACKED = 0.25
#: Margin around each piece when drawn alone, as a share of its longest side.
PIECE_MARGIN = 0.15
#: ... and when cut from paper (dark ink on light): more paper around the digit for its
#: lighting correction. Photo numbers, whole number right, 1,000 of seed 11 and the
#: benchmark's 500, at 0.15 / 0.25 / 0.5: 91.4 / 92.3 / 92.5 % and - / 91.4 / 90.6 %;
#: 0.25 reads ~10 % faster than 0.5. Light ink on dark keeps PIECE_MARGIN.
PAPER_MARGIN = 0.25
#: ... and when a number is read again, carefully, where a mark was refused (`segment`):
#: one copy of up to NUMBER_MAX_SIDE and this much paper, the reading before either.
CAREFUL_MARGIN = 0.5
#: Fragments closer than this share of the tallest component's height are weighed
#: together against the speck rule: a thin pen's digit broken into pieces, each a speck
#: beside a marker's digit.
FRAGMENT_GAP = 0.08
#: A thin pen's digit broken into fragments farther apart than that, or within reach of a
#: neighbour's ink: the fragments left over, weighed among themselves only, this far
#: apart (share of the tallest height), are a digit when together heavier than a speck
#: and at least `LOOSE_TALL` of the tallest height (dust is neither). Tuning seeds 11-13,
#: whole numbers right of 1,500 each: apart 1,426 -> 1,431 (too few digits 6 -> 2),
#: touching 1,356 -> 1,357, canvas 1,427 -> 1,427, photo 1,374 -> 1,378.
LOOSE_GAP, LOOSE_TALL = 0.24, 0.5
#: A kept stretch shorter than `LOOSE_TALL` (a thin pen's 5 flag, half of a broken 3) is
#: weighed with those fragments as well, instead of joining its neighbour (`_attach_small`);
#: and the ink weighed holds the faint ink joined to the mask (`_with_faint`, as a piece
#: keeps it), where it joins no two stretches heavier than specks. Tuning seeds 11-13,
#: whole numbers right of 1,500 each (apart / touching / canvas / photo; realistic single
#: digits read as several, of 3,000): before 1,431 / 1,357 / 1,427 / 1,378 (15); the short
#: stretches 1,431 / 1,358 / 1,430 / 1,379 (15); and the faint ink 1,435 / 1,362 / 1,438 /
#: 1,379 (12) (faint ink joining any stretches: 1,436 / 1,356 / 1,437 / 1,379 (7)).
#: The faint ink joined to the strong reaches this share of the tallest stretch's height
#: from it (a thin pen's stroke between its bits; not a shadow's expanse, which can make
#: a photo's digit so heavy that its neighbours become specks). With it and `LOOP_HOLE`,
#: figures as for `LOOSE_TALL`: 1,435 / 1,365 / 1,437 / 1,382 (13); at 0.06 1,435 /
#: 1,364 / 1,437 / 1,384 (15); without it 1,435 / 1,365 / 1,437 / 1,380 (12).
FAINT_REACH = 0.15
#: A written number's marks (digits, and the strokes or fragments of each), at most: a
#: page of dots has thousands, each of which would get a mask of the whole image.
MAX_MARKS = 64


@dataclass(frozen=True)
class Piece:
    """One digit's ink."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the original image's pixels
    #: (h, w) float32 in [0, 1]: this piece alone as the image shows it
    #: (`model.input.cut`), or how to make it (made where it is first shown: `image`)
    picture: np.ndarray | Callable[[], np.ndarray]
    touching: bool  # cut out of ink shared with a neighbour (less certain)
    #: Its ink on `image`'s pixels, what `model.number.piece_stages` reads: cut from the
    #: number's lit ink, stretched on its own (a canvas: its alpha); None: `image` alone.
    ink: np.ndarray | None = None
    polarity: Polarity = "dark-on-light"  # the number's, as `lit_ink` found it

    @cached_property
    def image(self) -> np.ndarray:  # (`picture`, made on first use)
        return self.picture() if callable(self.picture) else self.picture


@dataclass(frozen=True)
class Group:
    """One stretch of ink: read as one digit, or (`split`, when it is wide) as several."""

    whole: Piece
    split: list[Piece] | None  # candidate cut into digits; None when it is one digit wide
    likely_split: bool = False  # the shape says several (very wide, or digit-tall parts)


@dataclass(frozen=True)
class Segmentation:
    groups: list[Group]  # left to right
    size: tuple[int, int]  # (width, height) of the original image
    lines: int = 1  # lines of writing (`_lines`): a number is one
    points: int = 0  # marks that look like a decimal point or a comma (`separators`)
    quick: bool = False  # cut by the quick settings, which `segment(careful=True)` does not use

    @property
    def pieces(self) -> list[Piece]:
        """Each group as one digit (what a reader gets without choosing cuts)."""
        return [g.whole for g in self.groups]


def _stats(mask: np.ndarray):
    """OpenCV's 8-connected labelling with statistics, by Grana's algorithm: the same
    labels as OpenCV's default here (tests/model/test_number_pieces.py), ~20 % sooner."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(
        mask.view(np.uint8), 8, cv2.CV_32S, cv2.CCL_GRANA
    )


def _labels(mask: np.ndarray):
    """`_stats` without the statistics: (count, labels)."""
    return cv2.connectedComponentsWithAlgorithm(mask.view(np.uint8), 8, cv2.CV_32S, cv2.CCL_GRANA)


def _components(mask: np.ndarray, labelled) -> list[tuple[int, int, int, int, np.ndarray]]:
    """(x0, y0, x1, y1, own mask) of each component (`_stats(mask)`) that is not a speck."""
    n, labels, stats, _ = labelled
    if n <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA]
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    # A thin pen's 1 has a small area beside a thick 8, but it is as tall as a digit.
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    one = (heights >= THIN_TALL * heights.max()) & (widths <= heights / 2)
    alone = (areas >= SPECK_SHARE * areas.max()) | one
    _at_most_marks(int(np.count_nonzero(alone)))
    speck, tallest = SPECK_SHARE * areas.max(), int(heights.max())
    gap = max(round(FRAGMENT_GAP * tallest), 1)
    found = _fragments(mask, labels, areas, alone, speck, gap)
    # A kept stretch too short to be a digit (a thin pen's 5 flag, a broken 3's top half)
    # is weighed with the fragments left over around it: together they may be the digit.
    short = alone & (heights < LOOSE_TALL * tallest)
    loose, used = _loose(
        labels, alone, short, found, speck, round(LOOSE_GAP * tallest), LOOSE_TALL * tallest
    )
    out = []
    for k in np.flatnonzero(alone & ~used) + 1:
        x, y, w, h = stats[k, :4]
        out.append((int(x), int(y), int(x + w), int(y + h), labels == k))
    return out + found + loose


def _at_most_marks(count: int) -> None:
    """Refuse a page of dots or specks before a mask is made for each of them."""
    if count > MAX_MARKS:
        raise NoiseImageError(
            f"the image holds {count} separate marks: too many to read as a written number "
            "(a page of dots or specks?)"
        )


def _with_faint(ink: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """`strong` and the faint ink 8-connected to it within `FAINT_REACH` (hysteresis: a
    thin pen's strokes, cut by `INK_LEVEL` into specks), except where the faint ink would
    join two stretches that are no specks (two digits bridged by a shadow or a soft rim)."""
    n, labels, stats, _ = _stats(strong)
    if n <= 1:
        return strong
    reach = 2 * max(round(FAINT_REACH * stats[1:, cv2.CC_STAT_HEIGHT].max()), 1) + 1
    faint = (ink > FAINT_LEVEL) & (
        cv2.dilate(strong.view(np.uint8), np.ones((reach, reach), np.uint8)) > 0
    )
    m, weak = _labels(faint | strong)
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = np.zeros(n, bool)
    big[1:] = areas >= SPECK_SHARE * areas.max()
    # Each stretch lies whole in one stretch of faint-or-strong ink (a superset of it,
    # labelled with the same connectivity): count the big stretches each of those holds.
    held = weak[strong]
    holder = np.zeros(n, np.int64)
    holder[labels[strong]] = held
    keep = np.bincount(holder[big], minlength=m) <= 1
    keep &= np.bincount(held, minlength=m) > 0  # (faint ink alone is none)
    keep[0] = False
    return strong | keep[weak]


def _fragments(
    mask: np.ndarray,
    labels: np.ndarray,
    areas: np.ndarray,
    alone: np.ndarray,
    speck: float,
    gap: int,
) -> list:
    """A thin pen's digit broken into fragments, each a speck beside a marker's digit: the
    fragments closer than `gap` pixels to each other (and to no kept component) that
    together weigh more than a speck, as one component."""
    if gap <= 1 or alone.all():
        return []
    kernel = np.ones((gap, gap), np.uint8)
    m, near = _labels(cv2.dilate(mask.view(np.uint8), kernel))
    cluster = np.zeros(len(areas) + 1, np.int64)
    cluster[labels[mask]] = near[mask]  # (a component lies in one cluster)
    cluster = cluster[1:]
    taken = np.zeros(m, bool)
    taken[cluster[alone]] = True  # clusters holding a kept component: their specks stay out
    weight = np.bincount(cluster[~alone], weights=areas[~alone], minlength=m)
    out = []
    clusters = np.flatnonzero((weight >= speck) & ~taken)
    _at_most_marks(len(clusters))
    for c in clusters:
        own = np.isin(labels, np.flatnonzero(cluster == c) + 1)
        x, y, w, h = cv2.boundingRect(own.view(np.uint8))
        out.append((x, y, x + w, y + h, own))
    return out


def _loose(
    labels: np.ndarray,
    alone: np.ndarray,
    short: np.ndarray,
    found: list,
    speck: float,
    gap: int,
    tall: float,
) -> tuple[list, np.ndarray]:
    """The fragments neither kept nor `found`, and the `short` kept components, clustered
    among themselves within `gap` pixels (a kept neighbour's ink does not claim them):
    each cluster heavier than a speck and at least `tall` pixels high, as one component.
    Also which kept components went into one (bool per component)."""
    used = np.zeros(len(alone), bool)
    if gap <= 1 or (alone & ~short).all():
        return [], used
    left = np.zeros(len(alone) + 1, bool)
    left[1:] = ~alone | short
    loose = left[labels]
    for f in found:
        loose &= ~f[4]
    kernel = np.ones((gap, gap), np.uint8)
    m, near, stats, _ = _stats(cv2.dilate(loose.view(np.uint8), kernel))
    weight = np.bincount(near[loose], minlength=m)
    out = []
    for c in np.flatnonzero((weight >= speck) & (stats[:, cv2.CC_STAT_HEIGHT] >= tall)):
        if c == 0:
            continue
        own = loose & (near == c)
        x, y, w, h = cv2.boundingRect(own.view(np.uint8))
        mine = np.unique(labels[own]) - 1
        if h >= tall and not alone[mine].all():  # (kept ones alone: `_merge` judges them)
            out.append((x, y, x + w, y + h, own))
            used[mine[alone[mine]]] = True
    return out, used


def _merge(parts: list[tuple[int, int, int, int, np.ndarray]]):
    """Join components whose column ranges overlap (pieces of one digit). Two components
    of a digit's full height are two digits (a slanted 1 leaning over its neighbour)
    unless one nearly covers the other's columns (a 4 drawn in two strokes)."""
    if not parts:
        return [], []
    height = float(np.median([p[3] - p[1] for p in parts]))
    groups: list[list] = []
    for part in sorted(parts, key=lambda p: (p[0] + p[2]) / 2):
        x0, y0, x1, y1, _ = part
        for g in groups:
            gx0, gx1 = min(p[0] for p in g), max(p[2] for p in g)
            gy0, gy1 = min(p[1] for p in g), max(p[3] for p in g)
            overlap = min(x1, gx1) - max(x0, gx0)
            narrower = min(x1 - x0, gx1 - gx0)
            both_tall = min(y1 - y0, gy1 - gy0) >= TALL * height
            wider = max(x1 - x0, gx1 - gx0)
            if (
                overlap > (COVER if both_tall else MERGE_OVERLAP) * narrower
                or overlap > SHARE_WIDER * wider
            ):
                g.append(part)
                break
        else:
            groups.append([part])
    return sorted((_join_all(g) for g in groups), key=lambda p: p[0]), groups


def _join_all(parts):
    """One (x0, y0, x1, y1, mask) for several parts."""
    mask = np.logical_or.reduce([p[4] for p in parts])
    return (
        min(p[0] for p in parts),
        min(p[1] for p in parts),
        max(p[2] for p in parts),
        max(p[3] for p in parts),
        mask,
    )


def _apart(members, height: float):
    """The tall components of a merged group each as a digit, short ones joined to the
    nearest: the other reading of two digits that lean over each other. None: one digit."""
    tall = [m for m in members if m[3] - m[1] >= TALL * height]
    if len(tall) < 2:
        return None
    groups = [[t] for t in sorted(tall, key=lambda p: p[0])]
    for m in members:
        if any(m is t for t in tall):  # (by identity: `in` compares the masks of equal boxes)
            continue
        centre = (m[0] + m[2]) / 2
        nearest = min(groups, key=lambda g: abs((g[0][0] + g[0][2]) / 2 - centre))
        nearest.append(m)
    return [_join_all(g) for g in groups]


def _join(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] | b[4])


def _digit_height(parts) -> float:
    """A digit's height in this image: the median height of the stretches at least half as
    tall as the tallest (a broken digit's many small fragments would drag a plain median
    down to their own size)."""
    heights = [p[3] - p[1] for p in parts]
    return float(np.median([h for h in heights if h >= 0.5 * max(heights)]))


def _attach_small(parts):
    """Stretches much shorter than the others join their nearest neighbour."""
    if len(parts) < 2:
        return parts
    height = _digit_height(parts)
    parts = list(parts)
    changed = True
    while changed and len(parts) > 1:
        changed = False
        for i, p in enumerate(parts):
            if p[3] - p[1] >= SMALL_HEIGHT * height:
                continue
            gaps = [(max(q[0] - p[2], p[0] - q[2], 0), j) for j, q in enumerate(parts) if j != i]
            gap, j = min(gaps)
            if gap <= ATTACH_GAP * height:
                parts[j] = _join(parts[j], p)
                del parts[i]
                changed = True
                break
    return sorted(parts, key=lambda p: p[0])


def _near(parts, height: float) -> list[tuple[tuple, list | None]]:
    """Neighbours that may be one digit joined into one part, each with its two pieces
    (the other reading); other parts with None."""
    out: list[tuple[tuple, list | None]] = []
    for p in parts:
        if out and out[-1][1] is None:
            q = out[-1][0]
            gap = p[0] - q[2]
            rows = min(p[3], q[3]) - max(p[1], q[1])
            shorter = min(p[3] - p[1], q[3] - q[1])
            stacked = rows < STACKED * shorter and gap <= ATTACH_GAP * height
            joined = _join(q, p)
            one_wide = joined[2] - joined[0] <= SPLIT_RATIO * (joined[3] - joined[1])
            if one_wide and (gap <= NEAR_GAP * height or stacked):
                out[-1] = (joined, [q, p])
                continue
        out.append((p, None))
    return out


def _split(part, height: int) -> list[tuple[tuple[int, int, int, int, np.ndarray], bool]]:
    """Ink much wider than a digit -> k pieces cut at the emptiest nearby columns."""
    x0, y0, x1, y1, mask = part
    width = x1 - x0
    height = max(height, y1 - y0)
    if width <= SPLIT_RATIO * height or width > MAX_MARKS * DIGIT_WIDTH * height:
        return [(part, False)]  # one digit wide, or a line (cut: hundreds of "digits")
    k = max(round(width / (DIGIT_WIDTH * height)), 2)
    columns = mask[y0:y1, x0:x1].sum(axis=0).astype(np.float64)
    # A cut through a loop's hole cuts one digit (a wide 0), not two apart.
    columns[_in_loop(mask[y0:y1, x0:x1], y1 - y0)] = np.inf
    step = width / k
    cuts = [x0]
    for i in range(1, k):
        centre = i * step
        lo, hi = int(centre - CUT_WINDOW * step), int(centre + CUT_WINDOW * step) + 1
        lo, hi = max(lo, 1), min(hi, width - 1)
        if hi > lo and np.isinf(columns[lo:hi]).all():
            return [(part, False)]
        cuts.append(x0 + lo + int(np.argmin(columns[lo:hi])) if hi > lo else x0 + int(centre))
    cuts.append(x1)
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        own = np.zeros_like(mask)
        own[:, a:b] = mask[:, a:b]
        rows = np.flatnonzero(own.any(axis=1))
        if len(rows):
            if rows[-1] + 1 - rows[0] < CUT_MIN_HEIGHT * (y1 - y0):
                return [(part, False)]
            pieces.append(((a, int(rows[0]), b, int(rows[-1]) + 1, own), True))
    return pieces


def _in_loop(mask: np.ndarray, height: int) -> np.ndarray:
    """Bool per column of `mask`: crossing a hole of the ink (paper the ink closes round)
    at least `LOOP_HOLE` of `height` across."""
    paper = np.pad(~mask, 1, constant_values=True).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(paper, connectivity=4)
    side = LOOP_HOLE * height
    hole = np.zeros(n, bool)
    hole[1:] = (stats[1:, cv2.CC_STAT_WIDTH] >= side) & (stats[1:, cv2.CC_STAT_HEIGHT] >= side)
    hole[labels[0, 0]] = False  # the paper round the ink
    return hole[labels[1:-1, 1:-1]].any(axis=0)


def _window(strong: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(x, y, strong[window]): the window round the strong ink that holds everything the
    search can reach from it, so that the search finds on it what it finds on the whole
    image: the faint ink joined within `FAINT_REACH` of the tallest stretch (at most the
    ink's height), and the fragments weighed together within `LOOSE_GAP` (the widest
    gap; of the tallest component, faint ink included), with a few pixels to spare. No
    dilation reaches its edge, so every label, box and mask is the whole image's, moved.
    A photo's number covers about a quarter of its working copy (median of 60)."""
    x, y, w, h = cv2.boundingRect(strong.view(np.uint8))
    if w == 0:
        return 0, 0, strong
    reach = FAINT_REACH * h + 2
    margin = int(np.ceil(reach + LOOSE_GAP * (h + 2 * reach))) + 4
    rows, cols = strong.shape
    x0, y0 = max(x - margin, 0), max(y - margin, 0)
    x1, y1 = min(x + w + margin, cols), min(y + h + margin, rows)
    return x0, y0, strong[y0:y1, x0:x1]


def segment(image: ImageInput, max_pixels: int = MAX_PIXELS, careful: bool = False) -> Segmentation:
    """The digits of a written number, left to right. Raises BlankImageError, NoiseImageError,
    ImageError (not an image). careful: one copy of up to NUMBER_MAX_SIDE and CAREFUL_MARGIN
    of paper (what `model.number.read_number` reads again where a mark was refused)."""
    img = normalise_mode(decode(image, max_pixels, gray=True))
    if img.mode == "RGB":  # only the luminance is read: one channel to shrink, not three
        img = img.convert("L")
    if careful:
        return _segment(img, NUMBER_MAX_SIDE, CAREFUL_MARGIN)[0]
    found, height, work = _segment(img, NUMBER_SIDE, PAPER_MARGIN)
    side = max(work.size)
    if side < max(img.size) and _in_doubt(found.groups):
        return _segment(img, NUMBER_MAX_SIDE, PAPER_MARGIN)[0]
    larger = min(round(side * DIGIT_PIXELS / max(height, 1)), NUMBER_MAX_SIDE)
    if side < max(img.size) and height < DIGIT_MIN_PIXELS and larger > side:
        return _segment(img, larger, PAPER_MARGIN)[0]
    return found


def _in_doubt(groups: list[Group]) -> bool:
    """Whether a larger copy may cut otherwise: ink read both as one digit and as several,
    or neighbours sharing columns (a thin stroke joining them faded: a 6 read as 1, loop)."""
    if any(g.split is not None for g in groups):
        return True
    return any(b.whole.box[0] < a.whole.box[2] for a, b in pairwise(groups))


def _segment(img: Image.Image, side: int, paper: float) -> tuple[Segmentation, int, Image.Image]:
    """`segment` on a copy of at most `side` pixels; its digits' median height, the copy."""
    work = shrink(img, side)
    gray, alpha = to_float(work)
    if is_noise(img, gray, alpha):
        raise NoiseImageError(NOISE_MESSAGE)
    lit, polarity, _ = lit_or_alpha(gray, alpha)  # (once; None: the alpha is the ink)
    ink = np.asarray(alpha, np.float32) if lit is None else stretched(lit)
    margin = paper if polarity == "dark-on-light" else PIECE_MARGIN
    # (what a careful reading does otherwise: a larger copy, more paper round a digit)
    reduced = side < min(max(img.size), NUMBER_MAX_SIDE)
    quick = reduced or (polarity == "dark-on-light" and paper != CAREFUL_MARGIN)
    mask = ink > INK_LEVEL  # its components are judged by `_components`, specks by height too
    # The search runs on the window round the ink that every step can reach (`_window`):
    # the same components at a fraction of the cost on a photo's paper.
    ox, oy, mask = _window(mask)
    ink_w = ink[oy : oy + mask.shape[0], ox : ox + mask.shape[1]]
    mask = _with_faint(ink_w, mask)  # a thin pen's faint strokes join its bits
    labelled = _stats(mask)  # (a decimal point, a speck here, is counted from it: `separators`)
    components = _components(mask, labelled)
    # The ink kept (no specks): a neighbour's is painted over, a digit's own fragments stay.
    mask = np.logical_or.reduce([c[4] for c in components]) if components else mask
    merged, members = _merge(components)
    parts = _attach_small(merged)
    if not parts:
        raise BlankImageError("the image looks blank: no digit or drawing was found on it")
    height = int(np.median([p[3] - p[1] for p in parts]))
    # Boxes in the original's pixels (a large JPEG was decoded at a scale).
    drafted = img.info.get(DRAFT_SCALE, 1.0)
    scale = img.width / work.width * drafted

    def piece(x0: int, y0: int, x1: int, y1: int, own: np.ndarray, touching: bool) -> Piece:
        box = (x0, y0, x1, y1)
        if lit is None:  # transparency holds the strokes: their ink is the picture
            picture = ink_alone = alone(ink_w, box, own, margin)
        else:  # (the picture, only shown: made where it is)
            picture = alone_gray_later(gray, box, own, mask, margin, (ox, oy))
            ink_alone = stretched(alone_gray(lit, box, own, mask, margin, (ox, oy), 0.0))
        x0, y0, x1, y1 = x0 + ox, y0 + oy, x1 + ox, y1 + oy  # (in the working copy)
        box = (int(x0 * scale), int(y0 * scale), int(np.ceil(x1 * scale)), int(np.ceil(y1 * scale)))
        return Piece(box, picture, touching, ink_alone, polarity)

    # Merged groups by their box, to offer their components apart as the other reading.
    by_box = {tuple(_join_all(g)[:4]): g for g in members if len(g) > 1}
    groups = []
    for part, pair in _near(parts, height):
        if pair is not None:  # one digit in two strokes, or two digits close together
            split = [piece(*p[:5], False) for p in pair]
            groups.append(Group(piece(*part, False), split, False))
            continue
        cut = _split(part, height)
        x0, y0, x1, y1 = part[:4]
        if len(cut) > 1:
            split = [piece(*p, touching) for p, touching in cut]
            likely = (x1 - x0) > WIDE * (y1 - y0)
        else:
            apart = _apart(by_box.get(tuple(part[:4]), [part]), height)
            split = [piece(*p, False) for p in apart] if apart else None
            likely = apart is not None
        groups.append(Group(piece(*part, False), split, likely))
    size = round(img.width * drafted), round(img.height * drafted)
    found = Segmentation(groups, size, count_lines(components), separators(labelled[2]), quick)
    return found, height, work
