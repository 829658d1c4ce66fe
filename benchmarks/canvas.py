"""What a browser canvas sends, for the benchmarks: 280x280 RGBA PNGs, white antialiased
strokes on a transparent field (ui/web/draw.js), with Chromium's row filter (Up).

Measured against the PNG Chromium itself wrote for the same strokes (headless, /usr/bin/
chromium, `canvas.toDataURL`): RGBA, Up on every row, 3.1-5.0 KB; these are 2.6-3.6 KB.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from model.input.png import encode_up
from model.input.samples import EXAMPLES, drawn_digit

#: Strokes are drawn at this multiple of the canvas and box-filtered down: antialiased
#: edges like a browser's.
OVERSAMPLE = 4


def canvas_rgba(digit: int, side: int = 280, width: int = 18) -> np.ndarray:
    """(side, side, 4) uint8: the digit's strokes as the Draw page's canvas holds them."""
    big = drawn_digit(digit, size=side * OVERSAMPLE, width=width)  # width scales with size
    alpha = np.asarray(big.resize((side, side), Image.Resampling.BOX))
    out = np.zeros((side, side, 4), np.uint8)
    out[..., :3] = np.where(alpha[..., None] > 0, 255, 0)  # un-premultiplied white
    out[..., 3] = alpha
    return out


def canvas_png(digit: int) -> bytes:
    """The PNG bytes a browser posts for one drawn digit."""
    return encode_up(canvas_rgba(digit))


def canvas_pngs() -> list[bytes]:
    """One canvas PNG per example digit (0, 1, 4, 7)."""
    return [canvas_png(d) for d in EXAMPLES]
