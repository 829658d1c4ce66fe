"""One digit cut from a number, seen through other pens: the views `model.number` averages.

A number's digit reaches the model after its pen was brought into MNIST's band
(`normalise_stroke`): a marker thinned to `PIECE_ERODE_TO`, a thin pen thickened to
`STROKE_TARGET`. Which width reads best differs from digit to digit (a marker's 8 needs
its loops opened, its 1 keeps more of itself thinned less), so a piece whose pen was
changed is also offered to the model with that pen at another width, from the same soft
crop (`Preprocessed.cropped`), fit and centred as the pipeline does. A pen inside the
band gets no view: its input is the one the pipeline made.

Measured on the numbers of the tuning seeds 11-13 (never the table's), the digits of the
numbers cut into the right count, wrong with the pipeline's input alone -> with its view's
probabilities averaged in: apart 69 -> 60 of 4,482 (thick pens, 1,572 digits: 23 -> 17;
thin pens, 488: 21 -> 18), canvas 60 -> 56 of 4,415. Tried: a marker seen at 3.5, 3.75 or
4.5 instead of 4.0 (61/59, 61/58, 61/57 apart/canvas); at both 3.5 and 4.0 (58/56, +0.7 ms
per 4-digit number); a thin pen also at 3.5 (57 apart) or at 2.0 (60); views of the box's
size (18, 22 of 20), a box-centred paste, a pixel's shift or a thicker stroke for every
piece: -5..+10 alone, -1..+2 on top of the pens' view.
"""

from __future__ import annotations

import numpy as np

from model.input.filters import stroke_width
from model.input.preprocessing import (
    STROKE_BAND,
    STROKE_LEVEL,
    STROKE_OVERSAMPLE,
    Preprocessed,
    _paste,
    normalise_stroke,
    oversampled,
    refit,
)

#: A pen thicker than `STROKE_BAND` is also seen thinned to these widths (pixels of the
#: 20x20 box; the pipeline's own is `PIECE_ERODE_TO`, 3.0) ...
THICK_VIEWS = (4.0,)
#: ... and a pen thinner than the band thickened to these (the pipeline's: 2.5).
THIN_VIEWS = (3.0,)
SIDE = 20  # the MNIST box


def pen_views(pre: Preprocessed) -> list[np.ndarray]:
    """(28, 28) float32 inputs of the same digit with its pen at the other widths of
    `THICK_VIEWS` or `THIN_VIEWS`; [] where the pen is MNIST-like (inside `STROKE_BAND`)
    or the recipe is not MNIST's."""
    if pre.recipe != "mnist" or not pre.cropped.any():
        return []
    # (the pipeline's own oversampled crop, where it kept it)
    big = pre.oversampled if pre.oversampled is not None else oversampled(pre.cropped, SIDE)
    per_px = 1 / STROKE_OVERSAMPLE
    mask = big > STROKE_LEVEL
    if not mask.any():
        return []
    width = stroke_width(mask) * per_px
    if STROKE_BAND[0] <= width <= STROKE_BAND[1]:
        return []
    views = []
    for to in THICK_VIEWS if width > STROKE_BAND[1] else THIN_VIEWS:
        pen = normalise_stroke(big, per_px, thin_to=to, thicken_to=to)
        fitted, _ = refit(pen, SIDE)
        views.append(_paste(fitted / max(float(fitted.max()), 1e-6), centre_of_mass=True)[0])
    return views
