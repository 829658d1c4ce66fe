"""How many lines of writing a number's ink holds (`model.input.segment`): a number is
one; rows of digits merged column by column would read as nonsense."""

from __future__ import annotations

#: A band of rows is a line of writing from this share of the tallest component's height.
LINE_TALL = 0.5


def count_lines(components: list) -> int:
    """Lines of writing: bands of rows that no component crosses, counted where a band
    holds components side by side ("12" written above "34") and is at least half as tall
    as the tallest component (not a 7's bar broken into dashes above it); a broken digit's
    arcs, one above the other, are no second line, nor are digits at uneven heights."""
    if not components:
        return 1
    bands: list[list] = []
    for c in sorted(components, key=lambda c: c[1]):
        if bands and c[1] < max(b[3] for b in bands[-1]):
            bands[-1].append(c)
        else:
            bands.append([c])
    tall = LINE_TALL * max(c[3] - c[1] for c in components)
    lines = [b for b in bands if max(c[3] for c in b) - min(c[1] for c in b) >= tall]
    return max(sum(_side_by_side(b) for b in lines), 1)


def _side_by_side(band: list) -> bool:
    """Whether two of `band`'s components share no column."""
    spans = sorted((c[0], c[2]) for c in band)
    end = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 >= end:
            return True
        end = max(end, x1)
    return False
