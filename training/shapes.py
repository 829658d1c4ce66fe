"""Shapes and scribbles drawn as a person would on the canvas: the `train` half
(ellipses, boxes, triangles, polygons; random-walk and Bézier scribbles) and the
`report` half (stars, hearts, smileys, spirals, arrows, crosses; Lissajous
scribbles) never share a maker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw


def pen(rng: np.random.Generator) -> int:
    return int(rng.integers(6, 26))


def finish(img: Image.Image) -> Image.Image:
    """Crop drawn strokes ('L', ink bright) to their ink, with a small margin."""
    box = img.getbbox() or (0, 0, img.width, img.height)
    return img.crop((box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4))


def blank_canvas(
    rng: np.random.Generator, side: int = 240
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("L", (side, side), 0)
    return img, ImageDraw.Draw(img)


def _box(rng: np.random.Generator, side: int = 240) -> tuple[float, float, float, float]:
    w, h = rng.uniform(60, side - 20, 2)
    x0, y0 = rng.uniform(10, side - w - 10), rng.uniform(10, side - h - 10)
    return float(x0), float(y0), float(x0 + w), float(y0 + h)


def polyline(draw: ImageDraw.ImageDraw, pts, width: int, closed: bool = False) -> None:
    pts = [tuple(map(float, p)) for p in pts]
    if closed:
        pts = [*pts, pts[0]]
    draw.line(pts, fill=255, width=width, joint="curve")


def _regular(cx, cy, r, n, phase, inner=None) -> list[tuple[float, float]]:
    pts = []
    for i in range(n * (2 if inner else 1)):
        rad = (inner if inner and i % 2 else r) if inner else r
        a = phase + math.pi * i / n if inner else phase + 2 * math.pi * i / n
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


# train shapes
def ellipse(rng):
    """A round-ish ellipse (a tall narrow one would be a fair 0, so none of those)."""
    img, d = blank_canvas(rng)
    r = float(rng.uniform(40, 110))
    rx = r * float(rng.uniform(0.9, 1.35))
    d.ellipse((120 - rx, 120 - r, 120 + rx, 120 + r), outline=255, width=pen(rng))
    return finish(img.rotate(float(rng.uniform(-20, 20)), expand=True))


def dash(rng):
    """A straight stroke far from upright (an upright one is a fair 1)."""
    img, d = blank_canvas(rng)
    n = float(rng.uniform(40, 200))
    a = math.radians(float(rng.uniform(35, 145)))  # from upright
    dx, dy = n / 2 * math.sin(a), n / 2 * math.cos(a)
    polyline(d, [(120 - dx, 120 - dy), (120 + dx, 120 + dy)], pen(rng))
    return finish(img)


def rectangle(rng):
    img, d = blank_canvas(rng)
    d.rectangle(_box(rng), outline=255, width=pen(rng))
    return finish(img.rotate(float(rng.uniform(-30, 30)), expand=True))


def triangle(rng):
    img, d = blank_canvas(rng)
    polyline(d, rng.uniform(20, 220, (3, 2)), pen(rng), closed=True)
    return finish(img)


def polygon(rng):
    img, d = blank_canvas(rng)
    pts = _regular(120, 120, rng.uniform(50, 100), int(rng.integers(5, 9)), rng.uniform(0, 6))
    polyline(d, pts, pen(rng), closed=True)
    return finish(img)


def walk_scribble(rng):
    """A random walk of 3-9 straight segments."""
    img, d = blank_canvas(rng)
    pts = [rng.uniform(40, 200, 2)]
    for _ in range(int(rng.integers(3, 10))):
        step = rng.normal(0, 70, 2)
        pts.append(np.clip(pts[-1] + step, 10, 230))
    polyline(d, pts, pen(rng))
    return finish(img)


def wave(rng):
    """A sine wave or a zigzag across the field."""
    img, d = blank_canvas(rng)
    n = int(rng.integers(2, 6))
    x = np.linspace(20, 220, 12 * n if rng.random() < 0.5 else 2 * n + 1)
    y = 120 + rng.uniform(20, 70) * np.sin(np.linspace(0, n * np.pi, len(x)))
    polyline(d, np.stack([x, y], 1), pen(rng))
    return finish(img.rotate(float(rng.uniform(-40, 40)), expand=True))


def flower(rng):
    """A bumpy closed curve: a cloud or a flower outline."""
    img, d = blank_canvas(rng)
    t = np.linspace(0, 2 * np.pi, 200)
    lobes = int(rng.integers(3, 8))
    r = rng.uniform(50, 80) * (1 + rng.uniform(0.2, 0.45) * np.sin(lobes * t + rng.uniform(0, 6)))
    polyline(d, np.stack([120 + r * np.cos(t), 120 + r * np.sin(t)], 1), pen(rng), True)
    return finish(img)


def crossing(rng):
    """Two or three straight strokes crossing (a plus, an x, an asterisk)."""
    img, d = blank_canvas(rng)
    w = pen(rng)
    phase = rng.uniform(0, np.pi)
    k = int(rng.integers(2, 4))
    for i in range(k):
        a = phase + np.pi * i / k
        dx, dy = 90 * math.cos(a), 90 * math.sin(a)
        polyline(d, [(120 - dx, 120 - dy), (120 + dx, 120 + dy)], w)
    return finish(img)


def filled(rng):
    """A filled blob: a disc, a box or a polygon."""
    img, d = blank_canvas(rng)
    pts = _regular(120, 120, rng.uniform(40, 100), int(rng.integers(3, 12)), rng.uniform(0, 6))
    d.polygon([tuple(map(float, p)) for p in pts], fill=255)
    return finish(img)


def several(rng):
    """Two to five small separate marks: circles, ticks, dots."""
    img, d = blank_canvas(rng)
    w = max(pen(rng) // 2, 4)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(30, 210, 2)
        r = rng.uniform(8, 30)
        if rng.random() < 0.5:
            d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=w)
        else:
            polyline(d, [(cx - r, cy + r * rng.uniform(-1, 1)), (cx + r, cy - r)], w)
    return finish(img)


def bezier_scribble(rng):
    """A smooth scribble through random points (quadratic pieces)."""
    img, d = blank_canvas(rng)
    ctrl = rng.uniform(20, 220, (int(rng.integers(4, 8)), 2))
    pts = []
    for a, b, c in zip(ctrl[:-2], ctrl[1:-1], ctrl[2:], strict=False):
        p0, p2 = (a + b) / 2, (b + c) / 2
        for t in np.linspace(0, 1, 12):
            pts.append((1 - t) ** 2 * p0 + 2 * (1 - t) * t * b + t**2 * p2)
    polyline(d, pts, pen(rng))
    return finish(img)


# report shapes (other families)
def star(rng):
    img, d = blank_canvas(rng)
    r = rng.uniform(60, 110)
    n = int(rng.integers(5, 8))
    pts = _regular(120, 120, r, n, rng.uniform(0, 6), inner=r * rng.uniform(0.35, 0.55))
    polyline(d, pts, pen(rng), closed=True)
    return finish(img)


def heart(rng):
    img, d = blank_canvas(rng)
    t = np.linspace(0, 2 * np.pi, 80)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    s = rng.uniform(4, 6.5)
    polyline(d, np.stack([120 + s * x, 120 + s * y], 1), pen(rng), closed=True)
    return finish(img)


def smiley(rng):
    img, d = blank_canvas(rng)
    w = pen(rng)
    r = rng.uniform(70, 110)
    d.ellipse((120 - r, 120 - r, 120 + r, 120 + r), outline=255, width=w)
    for ex in (-0.4, 0.4):
        e = max(w * 0.6, 6)
        d.ellipse((120 + ex * r - e, 120 - 0.3 * r - e, 120 + ex * r + e, 120 - 0.3 * r + e), 255)
    d.arc((120 - 0.55 * r, 120 - 0.4 * r, 120 + 0.55 * r, 120 + 0.55 * r), 20, 160, 255, w)
    return finish(img)


def spiral(rng):
    img, d = blank_canvas(rng)
    turns = rng.uniform(1.5, 3.5)
    t = np.linspace(0, 2 * np.pi * turns, 200)
    r = np.linspace(5, rng.uniform(80, 110), 200)
    polyline(d, np.stack([120 + r * np.cos(t), 120 + r * np.sin(t)], 1), pen(rng))
    return finish(img)


def arrow(rng):
    img, d = blank_canvas(rng)
    w = pen(rng)
    polyline(d, [(30, 120), (210, 120)], w)
    polyline(d, [(150, 60), (210, 120), (150, 180)], w)
    return finish(img.rotate(float(rng.uniform(0, 360)), expand=True))


def cross_hatch(rng):
    """A hash sign or a grid: crossing strokes."""
    img, d = blank_canvas(rng)
    w = pen(rng)
    n = int(rng.integers(2, 4))
    for i in range(n):
        p = 40 + (160 * (i + 1)) / (n + 1)
        polyline(d, [(p, 20), (p + rng.uniform(-20, 20), 220)], w)
        polyline(d, [(20, p), (220, p + rng.uniform(-20, 20))], w)
    return finish(img)


#: Points of one full Lissajous period; a scribble draws the first 120-299 of them.
LISSAJOUS_POINTS = 300


@dataclass(frozen=True)
class Lissajous:
    """The parameters of one report scribble: x = sin(a t + phase_x), y = sin(b t + phase_y)."""

    a: int  # turns of x per period (1..4)
    b: int  # turns of y per period (1..4)
    phase_x: float
    amp_x: float  # in [0.5, 1), times 90 pixels
    phase_y: float
    amp_y: float
    n_points: int  # drawn: the first n_points of LISSAJOUS_POINTS
    pen: int

    def points(self) -> np.ndarray:
        """(n_points, 2) float64 x, y on the 240x240 drawing field (y grows downwards)."""
        t = np.linspace(0, 2 * np.pi, LISSAJOUS_POINTS)
        x = 120 + 90 * np.sin(self.a * t + self.phase_x) * self.amp_x
        y = 120 + 90 * np.sin(self.b * t + self.phase_y) * self.amp_y
        return np.stack([x, y], 1)[: self.n_points]


def lissajous_curve(rng: np.random.Generator) -> Lissajous:
    """Draw a scribble's parameters (in the order lissajous_scribble always drew them)."""
    a, b = rng.integers(1, 5, 2)
    phase_x, amp_x = rng.uniform(0, 6), rng.uniform(0.5, 1)
    phase_y, amp_y = rng.uniform(0, 6), rng.uniform(0.5, 1)
    n = int(rng.integers(120, LISSAJOUS_POINTS))
    return Lissajous(int(a), int(b), phase_x, amp_x, phase_y, amp_y, n, pen(rng))


def draw_lissajous(curve: Lissajous) -> Image.Image:
    """The scribble's strokes ('L', ink bright), cropped to the ink."""
    img, d = blank_canvas(None)
    polyline(d, curve.points(), curve.pen)
    return finish(img)


def lissajous_scribble(rng):
    """A smooth looping scribble (a Lissajous-like curve with random phases)."""
    return draw_lissajous(lissajous_curve(rng))


SHAPES = {
    "train": (ellipse, rectangle, triangle, polygon, dash, wave, flower, crossing, filled, several),
    "report": (star, heart, smiley, spiral, arrow, cross_hatch),
}
SCRIBBLES = {"train": (walk_scribble, bezier_scribble), "report": (lissajous_scribble,)}
