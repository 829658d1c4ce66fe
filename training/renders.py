"""Realistic drawn and photographed digits, made from real handwriting (MNIST digits).

Generators (the benchmarks' sets are made from MNIST *test* digits; the digit
detector trains on renders of *training* digits):
- `canvas`: real handwriting (MNIST digits) redrawn the way people use the
  app's 280x280 canvas: any size, anywhere, thin or thick pen, white on black,
  black on white, or opaque strokes on a transparent field (RGBA);
- `photo`: the same digits as dark ink on paper in a phone photo: uneven
  light, shading, paper grain, blur, slight rotation, sensor noise, JPEG;
- `tight-marker`: the same digits written with a thick marker and cropped tight to
  the ink (touching the frame), scanned dark on light or light on dark;
- `lowres`: the same digits scanned at 8x8..32x32 pixels, cropped tight and scaled up
  (blocky or blurry);
- `font`: typed digits in the fonts this machine has, placed and lit like `photo`
  (printed shapes, not handwriting: an out-of-distribution check).
"""

from __future__ import annotations

import glob
import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_ROOT = "/usr/share/fonts"
#: The typed digits' fonts: DejaVu only (Debian's `fonts-dejavu-core`, which CI installs). Any
#: other font a machine happens to have (a handwriting font installed for
#: `training.ood --hand-fonts`, say) would change the `font` sets and the calibration digits.
FONT_GLOBS = ("truetype/dejavu/DejaVu*.ttf",)


def upscale(
    digit: np.ndarray, height: int, rng: np.random.Generator, pens: bool = True
) -> Image.Image:
    """A 28x28 MNIST digit as a smooth (height x height) stroke image ('L', ink bright),
    in a random pen width (`pens`; otherwise the writer's own stroke, only scaled)."""
    img = Image.fromarray(digit).crop(Image.fromarray(digit).getbbox() or (0, 0, 28, 28))
    w, h = img.size
    s = height / h
    img = img.resize((max(int(w * s), 1), max(int(h * s), 1)), Image.Resampling.BICUBIC)
    img = img.filter(ImageFilter.GaussianBlur(s * 0.3))
    # Pen width: thicken with a max filter or thin with a min filter.
    pen = rng.choice(["thin", "normal", "thick", "very thick"], p=[0.2, 0.35, 0.3, 0.15])
    pen = pen if pens else "normal"
    k = {"thin": -1, "normal": 0, "thick": 1, "very thick": 2}[pen] * max(int(s * 0.6), 1)
    if k > 0:
        img = img.filter(ImageFilter.MaxFilter(2 * k + 1))
    elif k < 0:
        img = img.filter(ImageFilter.MinFilter(2 * -k + 1))
    # Hard-ish stroke edges like a canvas pen.
    a = np.asarray(img, np.float32) / 255
    a = np.clip((a - 0.3) / 0.3, 0, 1)
    return Image.fromarray((a * 255).astype(np.uint8))


def canvas(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A digit drawn on the 280x280 canvas."""
    return on_canvas(upscale(digit, int(rng.integers(70, 250)), rng), rng)


def on_canvas(strokes: Image.Image, rng: np.random.Generator, side: int = 280) -> Image.Image:
    """Strokes ('L', ink bright) placed anywhere on the canvas, in one of its three styles."""
    w, h = strokes.size
    if w > side - 10 or h > side - 10:  # squeezed to fit, as the set always did
        w, h = min(w, side - 10), min(h, side - 10)
        strokes = strokes.resize((w, h))
    field = Image.new("L", (side, side), 0)
    field.paste(strokes, (int(rng.integers(0, side - w + 1)), int(rng.integers(0, side - h + 1))))
    ink = np.asarray(field)
    style = rng.choice(["white-on-black", "black-on-white", "transparent"])
    if style == "white-on-black":
        return Image.fromarray(ink).convert("RGB")
    if style == "black-on-white":
        return Image.fromarray(255 - ink).convert("RGB")
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3)  # any pen colour
    rgba[..., 3] = ink
    return Image.fromarray(rgba, "RGBA")


def paper(strokes: Image.Image, rng: np.random.Generator, size=(640, 480)) -> bytes:
    """Dark ink `strokes` ('L', ink bright) photographed on paper, as JPEG bytes."""
    W, H = size
    strokes = strokes.rotate(
        float(rng.uniform(-10, 10)), resample=Image.Resampling.BILINEAR, expand=True
    )
    w, h = strokes.size
    ink = np.zeros((H, W), np.float32)
    x0, y0 = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
    ink[y0 : y0 + h, x0 : x0 + w] = np.asarray(strokes, np.float32) / 255
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
    light = (
        rng.uniform(0.65, 0.95)
        + rng.uniform(-0.25, 0.25) * (xx - 0.5)
        + rng.uniform(-0.25, 0.25) * (yy - 0.5)
    )
    cy, cx = rng.uniform(0, 1, 2)
    light -= rng.uniform(0, 0.3) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.08)  # shadow
    grain = (
        np.asarray(
            Image.fromarray((rng.random((H, W)) * 255).astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(1.5)
            ),
            np.float32,
        )
        / 255
        - 0.5
    )
    paper = np.clip(light + 0.08 * grain, 0, 1)
    ink_level = rng.uniform(0.05, 0.35)
    tint = np.array([1.0, 1.0, 1.0]) - rng.uniform(0, 0.15, 3)  # blue/black pens, warm paper
    gray = paper * (1 - ink) + ink_level * ink
    rgb = np.clip(gray[..., None] * tint + rng.normal(0, 0.02, (H, W, 3)), 0, 1)
    img = Image.fromarray((rgb * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5)))
    )
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(45, 90)))
    return buf.getvalue()


def photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A digit written with a pen on paper and photographed."""
    return paper(upscale(digit, int(rng.integers(90, 300)), rng), rng)


def scan(ink: Image.Image, rng: np.random.Generator) -> bytes:
    """Ink ('L', ink bright) as a scan: dark on light (mostly) or inverted, PNG or JPEG."""
    a = np.asarray(ink, np.float32) / 255
    if rng.random() < 0.7:
        a = 1 - a * float(rng.uniform(0.7, 0.95))  # dark ink on paper
    buf = io.BytesIO()
    img = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).convert("RGB")
    if rng.random() < 0.5:
        img.save(buf, "JPEG", quality=int(rng.integers(60, 95)))
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def tight_marker(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A digit written with a thick marker and cropped tight: the ink touches the frame."""
    height = int(rng.integers(60, 220))
    img = Image.fromarray(digit).crop(Image.fromarray(digit).getbbox() or (0, 0, 28, 28))
    s = height / img.height
    img = img.resize(
        (max(int(img.width * s), 1), max(int(img.height * s), 1)), Image.Resampling.BICUBIC
    )
    k = max(int(s * float(rng.uniform(0.5, 1.4))), 1)  # a marker: 1..3 MNIST strokes wider
    img = img.filter(ImageFilter.GaussianBlur(s * 0.3)).filter(ImageFilter.MaxFilter(2 * k + 1))
    a = np.clip((np.asarray(img, np.float32) / 255 - 0.3) / 0.3, 0, 1)
    ink = Image.fromarray((a * 255).astype(np.uint8))
    box = ink.getbbox() or (0, 0, ink.width, ink.height)
    m = int(rng.integers(0, 4))  # 0-3 pixels of margin
    ink = ink.crop((box[0] - m, box[1] - m, box[2] + m, box[3] + m))
    return scan(ink, rng)


def lowres(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A digit scanned at 8x8..32x32 pixels and scaled up (blocky or blurry), cropped tight."""
    img = Image.fromarray(digit)
    box = img.getbbox() or (0, 0, 28, 28)
    m = int(rng.integers(0, 3))
    img = img.crop((box[0] - m, box[1] - m, box[2] + m, box[3] + m))
    n = int(rng.integers(8, 33))  # the scan's longest side
    s = n / max(img.size)
    small = img.resize(
        (max(round(img.width * s), 1), max(round(img.height * s), 1)), Image.Resampling.BOX
    )
    up = int(rng.integers(100, 320)) / max(small.size)
    resample = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BICUBIC
    big = small.resize(
        (max(round(small.width * up), 1), max(round(small.height * up), 1)), resample
    )
    return scan(big, rng)


def font_digit(label: int, rng: np.random.Generator, fonts: list[str]) -> bytes:
    """A typed digit in a random font, photographed on paper."""
    font = ImageFont.truetype(str(rng.choice(fonts)), int(rng.integers(90, 260)))
    left, top, right, bottom = font.getbbox(str(label))
    img = Image.new("L", (right - left + 20, bottom - top + 20), 0)
    ImageDraw.Draw(img).text((10 - left, 10 - top), str(label), fill=255, font=font)
    return paper(img, rng)


#: The realistic sets made from MNIST digits, by name.
GENERATORS: dict[str, Callable] = {
    "canvas": canvas,
    "photo": photo,
    "tight-marker": tight_marker,
    "lowres": lowres,
}


#: Every set, with its seed offset (fixed, so adding a set never changes another's inputs).
SETS = {"canvas": 0, "photo": 1, "font": 2, "tight-marker": 3, "lowres": 4}


def fonts_available(root: str = FONT_ROOT) -> list[str]:
    """The typed digits' font files (`FONT_GLOBS`) installed under `root`."""
    return sorted(f for g in FONT_GLOBS for f in glob.glob(f"{root}/{g}"))


def make_set(
    kind: str, images: np.ndarray, labels: np.ndarray, n: int, seed: int
) -> tuple[list, np.ndarray]:
    """n realistic inputs of one kind and their labels."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(labels), size=n, replace=False)
    if kind == "font":
        fonts = fonts_available()
        ys = rng.integers(0, 10, n)
        return [font_digit(int(y), rng, fonts) for y in ys], ys
    make: Callable = GENERATORS[kind]
    return [make(images[i], rng) for i in idx], labels[idx]


def _visible(
    digit: np.ndarray, height: int, rng: np.random.Generator, pens: bool = True
) -> Image.Image:
    """`upscale`, drawn again where a thin pen erased the digit (a faint MNIST 1)."""
    for _ in range(8):
        strokes = upscale(digit, height, rng, pens)
        if (np.asarray(strokes) > 128).mean() > 0.02:
            return strokes
    return strokes


def number_strokes(
    digits: list[np.ndarray], rng: np.random.Generator, touching: float = 0.0, pens: bool = True
) -> Image.Image:
    """MNIST digits written side by side as one number ('L', ink bright): random heights,
    baselines and gaps; with probability `touching` a neighbour overlaps by a few pixels.
    Each digit in a random pen width (`upscale`), or, without `pens`, as its writer drew
    it, only scaled."""
    height = int(rng.integers(70, 140))
    parts = [_visible(d, int(height * rng.uniform(0.85, 1.1)), rng, pens) for d in digits]
    xs, x = [], 8
    for i, part in enumerate(parts):
        if i:
            gap = int(rng.integers(8, 40))
            if rng.random() < touching:
                gap = -int(rng.integers(1, 6))  # touching or overlapping by a few pixels
            x += gap
        xs.append(x)
        x += part.width
    field = Image.new("L", (x + 8, int(height * 1.5) + 16), 0)
    for part, px in zip(parts, xs, strict=True):
        py = 8 + int(rng.integers(0, max(field.height - part.height - 16, 1)))
        py = min(py, field.height - part.height)
        layer = Image.new("L", field.size, 0)
        layer.paste(part, (px, py))
        field = Image.fromarray(np.maximum(np.asarray(field), np.asarray(layer)))
    return field


def number_on_canvas(strokes: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A written number on the Draw page's wide number pad, in one of its styles."""
    side = max(strokes.width, strokes.height) + int(rng.integers(10, 60))
    pad = Image.new("L", (side, strokes.height + int(rng.integers(10, 60))), 0)
    pad.paste(strokes, (int(rng.integers(0, side - strokes.width + 1)), 5))
    style = rng.choice(["white-on-black", "black-on-white"])
    ink = np.asarray(pad)
    return Image.fromarray(ink if style == "white-on-black" else 255 - ink).convert("RGB")


def number_on_pad(strokes: Image.Image, rng: np.random.Generator) -> bytes:
    """A written number as the Draw page's number pad posts it: white strokes on a
    transparent field, an RGBA PNG whose alpha is the ink (as draw.js exports it)."""
    ink = np.asarray(number_on_canvas(strokes, rng).convert("L"))
    ink = ink if ink[0, 0] < 128 else 255 - ink  # (white-on-black, whichever style came)
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., :3] = np.where(ink[..., None] > 0, 255, 0)
    rgba[..., 3] = ink
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def number_photo(strokes: Image.Image, rng: np.random.Generator) -> bytes:
    """A written number in dark ink on photographed paper (JPEG bytes)."""
    w = strokes.width + 80
    return paper(strokes, rng, size=(max(w, 640), max(int(w * 0.6), 360)))
