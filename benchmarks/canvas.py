"""What a browser canvas sends, for the benchmarks: 280x280 RGBA PNGs, white antialiased
strokes on a transparent field (ui/web/draw.js), with Chromium's row filter (Up); made
by `model.input.samples`.

Measured against the PNG Chromium itself wrote for the same strokes (headless, /usr/bin/
chromium, `canvas.toDataURL`): RGBA, Up on every row, 3.1-5.0 KB; these are 2.6-3.6 KB.
"""

from __future__ import annotations

from model.input.samples import EXAMPLES, OVERSAMPLE, canvas_png, canvas_rgba

__all__ = ["OVERSAMPLE", "canvas_png", "canvas_pngs", "canvas_rgba"]


def canvas_pngs() -> list[bytes]:
    """One canvas PNG per example digit (0, 1, 4, 7)."""
    return [canvas_png(d) for d in EXAMPLES]
