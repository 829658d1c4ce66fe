"""Example drawings made with pen strokes, as a user draws them on the canvas, and the
PNG a browser posts for one (`canvas_png`).

Used by the tests, the benchmarks, the app's "try an example" buttons, and the runtime
choice (`Classifier.fused`: a canvas's preprocessing between the calls it times).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from model.input.png import encode_up

#: Strokes are drawn at this multiple of the canvas and box-filtered down: antialiased
#: edges like a browser's.
OVERSAMPLE = 4


def drawn_digit(
    digit: int, size: int = 280, width: int = 18, offset: tuple[int, int] = (0, 0)
) -> Image.Image:
    """A digit drawn with pen strokes the way a user draws on the canvas (white on black)."""
    strokes = {
        0: [("ellipse", (90, 50, 190, 230))],
        1: [("line", [(120, 80), (150, 50), (150, 230)])],
        4: [("line", [(170, 230), (170, 50), (80, 170), (200, 170)])],
        7: [("line", [(90, 60), (190, 60), (120, 230)])],
    }[digit]
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    s = size / 280
    ox, oy = offset
    for kind, pts in strokes:
        if kind == "ellipse":
            x0, y0, x1, y1 = (v * s for v in pts)
            d.ellipse((x0 + ox, y0 + oy, x1 + ox, y1 + oy), outline=255, width=int(width * s))
        else:
            d.line(
                [(x * s + ox, y * s + oy) for x, y in pts],
                fill=255,
                width=int(width * s),
                joint="curve",
            )
    return img


#: The digits `drawn_digit` knows how to draw.
EXAMPLES = (0, 1, 4, 7)


def canvas_rgba(digit: int, side: int = 280, width: int = 18) -> np.ndarray:
    """(side, side, 4) uint8: the digit's strokes as the Draw page's canvas holds them,
    white antialiased strokes on a transparent field (ui/web/draw.js)."""
    big = drawn_digit(digit, size=side * OVERSAMPLE, width=width)  # width scales with size
    alpha = np.asarray(big.resize((side, side), Image.Resampling.BOX))
    out = np.zeros((side, side, 4), np.uint8)
    out[..., :3] = np.where(alpha[..., None] > 0, 255, 0)  # un-premultiplied white
    out[..., 3] = alpha
    return out


def canvas_png(digit: int) -> bytes:
    """The PNG bytes a browser posts for one drawn digit (Chromium's row filter, Up)."""
    return encode_up(canvas_rgba(digit))


@cache
def sample_canvas() -> bytes:
    """One drawn 7 as a browser posts it, made once."""
    return canvas_png(7)
