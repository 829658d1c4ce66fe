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
#: ... and at most this share of its edge touches the transparent field (a pen's: all).
MAX_TOUCHING = 0.2
#: Fewer pixels of such ink than this, and the opaque pixels are one colour: a pen.
MIN_INK = 16
_SQUARE = np.ones((3, 3), np.uint8)


def opaque_picture(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
    """gray, alpha (h, w) float32 in [0, 1] of an image whose transparency would be read as
    its ink -> its luminance with the transparent pixels filled in with its paper's, where
    its opaque pixels hold ink enclosed by paper; None where they are a pen's strokes (the
    alpha is the ink)."""
    clear = (alpha < 0.5).view(np.uint8)
    near_clear = cv2.dilate(clear, _SQUARE).view(bool)
    opaque = ~clear.view(bool)
    rim = opaque & near_clear  # the opaque pixels on the transparent field's edge
    if not rim.any():
        return None
    paper = float(np.median(gray[rim]))
    ink = opaque & (np.abs(gray - paper) > INK_CONTRAST)
    if np.count_nonzero(ink) < MIN_INK:
        return None
    edge = ink & ~cv2.erode(ink.view(np.uint8), _SQUARE).view(bool)
    if np.count_nonzero(edge & near_clear) > MAX_TOUCHING * np.count_nonzero(edge):
        return None
    return gray * alpha + paper * (1.0 - alpha)
