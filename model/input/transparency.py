"""Transparency that is not the ink: a picture whose background was made transparent.

A canvas draws strokes of one colour on a transparent field, so its alpha is its ink
(`preprocessing.ink_map`). A scan or photo whose paper was made transparent ("make white
transparent" in a paint program, a palette PNG whose white is its transparent colour, a
background remover) keeps opaque paper: a halo of near-white pixels around the ink, or
patches of paper that were not quite white. Read as ink, that paper is a thick outline
or a blotch: a "1" became "8 (93 %)", a digit on grainy paper "not a digit".

Such an image's opaque pixels hold a picture of their own: ink enclosed by paper, and
the paper is what touches the transparent field. A pen's strokes touch it themselves.
`opaque_picture` tells the two apart and gives the picture back with its transparent
field filled in with its paper, to be read as any photo is.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Opaque ink differs from its paper by at least this much luminance (0..1)...
INK_CONTRAST = 0.3
#: ... and a mark of it is enclosed where at most this share of its edge touches the
#: transparent field (a pen's strokes of another colour: all of it; a shadow left opaque
#: along the paper's cut edge: much of it) ...
MAX_TOUCHING = 0.2
#: ... and is a stroke, not a pen's grain, where it spans at least this share of the
#: opaque part's extent (a pencil's or a crayon's specks: a few pixels of ~200).
MIN_SPAN = 0.1
#: Ink is darker than its paper, or lighter (chalk), on one side of it but for this share;
#: a textured pen's grain (a pencil, a crayon) lies on both sides of its colour.
ONE_SIDE = 0.1
_SQUARE = np.ones((3, 3), np.uint8)


def opaque_picture(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
    """gray, alpha (h, w) float32 in [0, 1] of an image whose transparency would be read as
    its ink -> its luminance with the transparent pixels filled in with its paper's, where
    its opaque pixels hold a mark enclosed by paper; None where they are a pen's strokes
    (the alpha is the ink): of one colour, of two, or of a textured pen."""
    clear = (alpha < 0.5).view(np.uint8)
    near_clear = cv2.dilate(clear, _SQUARE).view(bool)
    opaque = ~clear.view(bool)
    rim = opaque & near_clear  # the opaque pixels on the transparent field's edge
    if not rim.any():
        return None
    # The paper: the lighter of the pixels on that edge and all the opaque ones (a page cut
    # out of its photo has an edge blurred into the desk, darker than the page: filled
    # with it, the field read as slabs of ink, a 1 as "5", a review).
    paper = max(float(np.median(gray[rim])), float(np.median(gray[opaque])))
    darker, lighter = opaque & (gray < paper - INK_CONTRAST), opaque & (gray > paper + INK_CONTRAST)
    n_dark, n_light = np.count_nonzero(darker), np.count_nonzero(lighter)
    if min(n_dark, n_light) > ONE_SIDE * (n_dark + n_light):
        return None  # (a textured pen: grain both sides of its colour; ink: one side)
    ink = (darker if n_dark >= n_light else lighter).view(np.uint8)
    if not ink.any():
        return None  # (one colour: a pen's strokes, the usual case)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    edge = labels * (ink & ~cv2.erode(ink, _SQUARE)).view(bool)
    edges = np.bincount(edge.ravel(), minlength=n)
    touching = np.bincount(edge[near_clear].ravel(), minlength=n)
    ys, xs = np.nonzero(opaque)
    extent = max(np.ptp(ys), np.ptp(xs)) + 1
    span = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    marks = (touching <= MAX_TOUCHING * edges) & (span >= MIN_SPAN * extent)
    if not marks[1:].any():  # (label 0: everything else)
        return None
    return gray * alpha + paper * (1.0 - alpha)
