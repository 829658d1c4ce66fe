"""Decimal points and separators: small marks low down between the digits of a line.

The number reader drops marks far smaller than a digit as specks (dust, a pen's touch),
so "3.50" was read as 350, with full confidence: a price read a hundred times too big.
A mark is counted here where it could be a point or a comma: much shorter than the
digits, as heavy as a tap of their pen, compact and filled (a dot, a comma), in the lower
part of their line, and in a gap between two digits, with no other ink over or under it (the
lower loop of an 8 drawn in two is none). Tuned on the numbers
benchmark's 3,000 numbers (none holds a point: its broken strokes and blobs are what must
not count) and on typed prices ("3.50", "1,250"). `model.number` then refuses
the number in words, as it refuses two lines of writing: it reads whole numbers.
"""

from __future__ import annotations

import numpy as np

#: Digits: components at least this share of the tallest one's height.
DIGIT_TALL = 0.5
#: A point or a comma is at most this share of the digits' median height tall ...
MARK_TALL = 0.45
#: ... with at least this many times the pen's width squared in pixels (a tap of the pen
#: is about 0.8; dust less). The pen's width is the digits' ink over the length of their
#: strokes, taken as PATH times their height (a digit's strokes run 2-3 heights) ...
MARK_AREA = 0.4
PATH = 2.5
#: ... compact: its width between these times its height (a dot about 1, a comma 0.6;
#: a digit's stroke broken off is a thin upright or a flat bar) ...
MARK_ASPECT = (0.5, 2.0)
#: ... and filled: at least this share of its box inked (a dot 0.8-1, a comma 0.65; a
#: broken stroke's diagonal less).
MARK_FILL = 0.5
#: ... its centre below this share of the digits' band, measured from its top ...
LOW = 0.55
#: ... and its foot above the band's foot by at most this share of the height (a comma's
#: tail hangs a little below the line).
TAIL = 0.5


def separators(stats: np.ndarray) -> int:
    """How many marks of a line's ink look like a decimal point or a comma; stats: its
    8-connected components' (OpenCV's statistics, row 0 the background)."""
    if len(stats) < 4:  # (a mark needs a digit on either side of it)
        return 0
    x, y, w, h, area = (stats[1:, i].astype(np.float64) for i in range(5))
    tall = h >= DIGIT_TALL * h.max()
    if np.count_nonzero(tall) < 2:
        return 0
    height = float(np.median(h[tall]))
    top, foot = float(np.median(y[tall])), float(np.median((y + h)[tall]))
    pen = float(np.median(area[tall] / (PATH * h[tall])))
    mark = (~tall) & (h <= MARK_TALL * height) & (area >= MARK_AREA * pen**2)
    mark &= (w >= MARK_ASPECT[0] * h) & (w <= MARK_ASPECT[1] * h) & (area >= MARK_FILL * w * h)
    mark &= y + h / 2 >= top + LOW * (foot - top)
    mark &= y + h <= foot + TAIL * height
    left, right = x[tall], (x + w)[tall]
    # Ink that could stand over or under a mark: anything a tap's size or more (the other
    # loop of an 8 drawn in two, a 5's flag), not dust.
    inked = area >= MARK_AREA * pen**2
    count = 0
    for k in np.flatnonzero(mark):
        a, b = x[k], x[k] + w[k]
        others = inked & (x < b) & (x + w > a)
        others[k] = False
        if others.any():
            continue  # under or over other ink: a piece of a digit
        if (right <= a).any() and (left >= b).any():
            count += 1
    return count
