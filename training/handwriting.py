"""Letters written with a pen and scribbles from families the older generators lack.

Pen letters are the Hershey stroke fonts (the `Hershey-Fonts` package, MIT, 148 kB,
pure Python) drawn as strokes with a wobbly hand: each glyph's centre lines get a
smooth random displacement, a slant, a rotation and a pen of any width, so they look
written rather than typed. The `train` and `report` halves use disjoint fonts; the
report half holds the two handwriting (script) fonts, which training never sees.

Scribbles: `coil` (a chain of loops, like a run of cursive l or e; training),
`scratch` (a pen turning sharply back at random; training) and `scrawl` (a
scratching-out zigzag or a tangle of arcs; report only).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from PIL import Image

from training.shapes import blank_canvas, finish, pen, polyline

#: Hershey fonts per half: print and italic faces to train on; the three handwriting
#: (script) faces only in the report.
PEN_FONTS = {
    "train": ("futural", "futuram", "rowmans", "rowmand", "timesr", "timesi", "cursive"),
    "report": ("scripts", "scriptc"),
}
#: More pen faces to train on (issue #21, second round): blackletter, Times bold italic and
#: triplex, and the Greek and Cyrillic alphabets at the Latin letters' keys. Each face
#: leaves out the keys whose glyph looks like a digit (Greek V is an O, v a dash;
#: Cyrillic C and c are an E turned round, close to a 3).
MORE_PEN_FONTS = {
    "gothgbt": "",
    "gothitt": "",
    "timesib": "",
    "rowmant": "",
    "greek": "Vv",
    "cyrillic": "Cc",
}


@cache
def _font(name: str):
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name)
    return font


def hershey_available() -> bool:
    try:
        _font("futural")
    except ImportError:
        return False
    return True


def _wobble(pts: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Points moved by a smooth random field: a hand, not a plotter."""
    k = rng.normal(0, 1, (3, 4))
    x, y = pts[:, 0], pts[:, 1]
    dx = amount * (k[0, 0] * np.sin(k[0, 1] * x + k[0, 2]) + k[0, 3] * np.sin(0.7 * y + k[1, 0]))
    dy = amount * (k[1, 1] * np.sin(k[1, 2] * y + k[1, 3]) + k[2, 0] * np.sin(0.6 * x + k[2, 1]))
    return pts + np.stack([dx, dy], 1) * 0.5


def pen_letter(ch: str, rng: np.random.Generator, fonts: tuple[str, ...]) -> Image.Image:
    """One letter from a Hershey font, written: wobble, slant, rotation, any pen width."""
    font = _font(str(rng.choice(list(fonts))))
    strokes = [np.asarray(s, np.float64) for s in font.strokes_for_text(ch) if len(s) > 1]
    if not strokes:
        raise ValueError(f"no strokes for {ch!r}")
    allp = np.concatenate(strokes)
    lo, hi = allp.min(0), allp.max(0)
    size = float(max(hi - lo)) or 1.0
    height = float(rng.uniform(90, 210))
    shear = float(rng.uniform(-0.35, 0.35))
    angle = math.radians(float(rng.uniform(-15, 15)))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    wobble = float(rng.uniform(0.0, 0.05)) * size
    img, d = blank_canvas(rng, 300)
    width = pen(rng)
    for s in strokes:
        p = _wobble(s - lo, rng, wobble) if wobble > 0 else s - lo
        p = p * (height / size)
        p[:, 0] += shear * (height - p[:, 1])  # y grows downwards, as on the canvas
        p = (p - height / 2) @ rot.T + 150
        polyline(d, p, width)
    return finish(img)


def coil(rng: np.random.Generator) -> Image.Image:
    """A chain of 3-7 loops across the field, like a run of cursive l or e (training)."""
    img, d = blank_canvas(rng)
    n = int(rng.integers(3, 8))
    t = np.linspace(0, 2 * np.pi * n, 60 * n)
    r = float(rng.uniform(15, 45))
    x = 20 + (200 - 2 * r) * t / t[-1] + r + r * np.cos(t + np.pi)
    y = 120 + r * float(rng.uniform(0.8, 2.2)) * np.sin(t)
    polyline(d, np.stack([x, y], 1), pen(rng))
    return finish(img.rotate(float(rng.uniform(-30, 30)), expand=True))


def scrawl_path(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """((M, 2) points on a 340x340 field, pen width) of one scrawl: a scratching-out
    zigzag over an area, turned by up to 60 degrees, or a tangle of arcs."""
    if rng.random() < 0.5:
        n = int(rng.integers(4, 12))
        xs = np.linspace(30, 210, n) + rng.normal(0, 8, n)
        ys = np.where(np.arange(n) % 2 == 0, rng.uniform(20, 80, n), rng.uniform(160, 220, n))
        pts = np.stack([xs, ys], 1)
        angle = math.radians(float(rng.uniform(-60, 60)))
    else:
        m = int(rng.integers(3, 7))
        arcs = []
        c = rng.uniform(80, 160, 2)
        for _ in range(m):
            r = float(rng.uniform(25, 80))
            a0 = float(rng.uniform(0, 2 * np.pi))
            a = a0 + np.linspace(0, float(rng.uniform(2, 5)), 40)
            arcs.append(np.stack([c[0] + r * np.cos(a), c[1] + r * np.sin(a)], 1))
            c = np.clip(c + rng.normal(0, 30, 2), 60, 180)
        pts = np.concatenate(arcs)
        angle = 0.0
    pts = np.clip(pts, 5, 235) - 120
    rot = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    return pts @ rot.T + 170, pen(rng)


def scratch(rng: np.random.Generator) -> Image.Image:
    """A pen going back and forth at random sharp turns (training), see `scratch_path`."""
    return draw_path(_fit(scratch_path(rng), rng), pen(rng))


def scratch_path(rng: np.random.Generator) -> np.ndarray:
    """(M, 2) corners of a scratch: 4-9 legs of random length, the pen turning back by
    110-180 degrees, left or right, at each corner (fewer legs draw a Z, an N or a 4)."""
    n = int(rng.integers(4, 10))
    heading = float(rng.uniform(0, 2 * np.pi))
    pts = [np.zeros(2)]
    for _ in range(n):
        step = float(rng.uniform(40, 160))
        pts.append(pts[-1] + step * np.array([math.cos(heading), math.sin(heading)]))
        heading += float(rng.choice([-1, 1]) * rng.uniform(np.radians(110), np.pi))
    return np.array(pts)


def _fit(pts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points scaled into a 120-300 pixel box centred on the 340x340 field."""
    lo, hi = pts.min(0), pts.max(0)
    size = float(max(hi - lo)) or 1.0
    return (pts - (lo + hi) / 2) * (float(rng.uniform(120, 300)) / size) + 170


def draw_path(pts: np.ndarray, width: int) -> Image.Image:
    """One stroke along `pts` on a 340x340 field ('L', ink bright), cropped to the ink."""
    img, d = blank_canvas(None, 340)
    polyline(d, pts, width)
    return finish(img)


def scrawl(rng: np.random.Generator) -> Image.Image:
    """A scratching-out zigzag or a tangle of arcs (report only)."""
    return draw_path(*scrawl_path(rng))


def loops(rng: np.random.Generator) -> Image.Image:
    """Overlapping loops drifting across the field, like scribbling a spot out (training)."""
    img, d = blank_canvas(rng)
    n = int(rng.integers(3, 9))
    t = np.linspace(0, 2 * np.pi * n, 50 * n)
    r = rng.uniform(30, 80, 2)
    drift = rng.normal(0, 60, 2)
    wander = rng.normal(0, 4, len(t)).cumsum() / 8  # a hand drifts sideways
    x = 120 + r[0] * np.cos(t) + drift[0] * (t / t[-1] - 0.5) + wander
    y = 120 + r[1] * np.sin(t) + drift[1] * (t / t[-1] - 0.5)
    polyline(d, np.clip(np.stack([x, y], 1), 5, 235), pen(rng))
    return finish(img)


def word(rng: np.random.Generator, letters: str, fonts: tuple[str, ...]) -> Image.Image:
    """Two to four pen letters side by side: a short word (training)."""
    n = int(rng.integers(2, 5))
    parts = [pen_letter(str(rng.choice(list(letters))), rng, fonts) for _ in range(n)]
    h = max(p.height for p in parts)
    out = Image.new("L", (sum(p.width for p in parts), h), 0)
    x = 0
    for p in parts:
        out.paste(p, (x, h - p.height))
        x += p.width - 8
    out = finish(out)
    scale = min(1.0, 250 / max(out.size))  # fits the canvas and the photographed paper
    return out.resize((max(int(out.width * scale), 1), max(int(out.height * scale), 1)))


def oval_zero(rng: np.random.Generator) -> Image.Image:
    """A 0 as people draw it on a pad: a tall oval (width 0.45-0.8 of its height, where the
    round ellipses among the negatives are 0.9-1.35), tilted a little, sometimes not quite
    closed."""
    img, d = blank_canvas(rng)
    h = float(rng.uniform(45, 110))
    w = h * float(rng.uniform(0.45, 0.8))
    start = float(rng.uniform(0, 2 * np.pi))
    t = start + np.linspace(0, 2 * np.pi * float(rng.uniform(0.93, 1.08)), 120)
    pts = np.stack([120 + w * np.cos(t), 120 + h * np.sin(t)], 1)
    polyline(d, pts, pen(rng))
    return finish(img.rotate(float(rng.uniform(-20, 20)), expand=True))


#: Cursive letters joined into pairs and triples (issue #21, third round; training only):
#: the Hershey `cursive` face joins its letters at the baseline, as a hand writes them.
JOINED_FONT = "cursive"


def joined_letters(rng: np.random.Generator, letters: str) -> Image.Image:
    """Two or three cursive letters written joined in one go (training): a word's piece,
    wide and looped like handwriting, never one digit's shape."""
    n = int(rng.integers(2, 4))
    text = "".join(str(rng.choice(list(letters))) for _ in range(n))
    return pen_letter(text, rng, (JOINED_FONT,))


def bezier_loops(rng: np.random.Generator) -> Image.Image:
    """A chain of looped Bezier pieces (training), see `bezier_path`."""
    return draw_path(_fit(np.concatenate(bezier_path(rng)), rng), pen(rng))


def bezier_path(rng: np.random.Generator) -> list[np.ndarray]:
    """The (60, 2) points of each of 2-4 cubic Bezier pieces drawn one after the other, in a
    drifting direction; each piece's control points lie past each other, so it crosses
    itself once: a loop (training). Smooth looped curves, not a digit's path."""
    n = int(rng.integers(2, 5))
    heading = float(rng.uniform(0, 2 * np.pi))
    t = np.linspace(0, 1, 60)[:, None]
    start, parts = np.zeros(2), []
    for _ in range(n):
        step = float(rng.uniform(30, 90))
        ahead = np.array([math.cos(heading), math.sin(heading)])
        side = np.array([-ahead[1], ahead[0]]) * float(rng.choice([-1, 1]))
        end = start + step * ahead
        height = step * float(rng.uniform(1.2, 2.5))
        c1 = end + step * float(rng.uniform(0.8, 1.6)) * ahead + height * side
        c2 = start - step * float(rng.uniform(0.8, 1.6)) * ahead + height * side
        parts.append(
            (1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * end
        )
        start = end
        heading += float(rng.normal(0, 0.6))
    return parts
