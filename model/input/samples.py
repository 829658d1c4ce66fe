"""Example drawings made with pen strokes, as a user draws them on the canvas.

Used by the tests, the benchmarks and the app's "try an example" buttons.
"""

from __future__ import annotations

from PIL import Image, ImageDraw


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
