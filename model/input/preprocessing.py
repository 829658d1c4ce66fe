"""Any image -> a 28x28 input in the format the model was trained on.

MNIST was made by fitting each digit into a 20x20 box (keeping its aspect
ratio, with antialiasing) and moving its centre of mass to the centre of a
28x28 field, white ink on black. Real input (a 280x280 canvas stroke, a phone
photo of paper) gets the same treatment here:

    decode ─ working copy ─ ink map ─ mask & specks ─ crop ─ fit 20x20 ─ centre (28x28)

Fashion-MNIST used its own recipe (trim, fit the longest side to 28, centre the
box), which `recipe="fashion"` follows. Every stage is kept in `Preprocessed`
so the UI can show them and explanations can be projected back onto the
original image.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from model.errors import (
    BlankImageError,
    EmptyImageError,
    ImageError,
    ImageTooLargeError,
    NoiseImageError,
    TooSmallError,
)

Recipe = Literal["mnist", "fashion"]
ImageInput = str | os.PathLike | bytes | bytearray | Image.Image | np.ndarray

#: The lighting correction (a top-hat) runs on a copy whose longest side is this.
TOPHAT_SIDE = 64
#: ... and only where the background it finds varies by more than this (0..1): on a
#: flat field (the canvas, a scan) it would only hollow out thick strokes.
UNEVEN_LIGHT = 0.08
#: Ink at least this fraction of the peak is "strong" (shadows on paper stay below it) ...
STRONG_INK = 0.8
#: ... and if the top-hat more than halves this share of it, the strokes were taken for
#: background (a tight marker crop: 0.4-1.0 here; photos and fonts: < 0.3), so a wider
#: opening is used instead.
HOLLOW_MAX = 0.3
#: ... counting only strong ink within 1/this of the image of what the top-hat kept
#: (shadows lie farther away; 3 keeps every photo and font case of the realistic sets).
NEAR_STROKE_DIV = 3
#: Images above this many pixels are refused before decoding (decompression bombs).
#: The one default for the library, the app and the server (`--max-pixels`,
#: DIGITLENS_MAX_PIXELS): a 48 MP phone photo passes; decoding stays under ~200 MB.
MAX_PIXELS = 50_000_000
#: Ink analysis runs on a copy whose longest side is at most this (speed on phone photos).
WORKING_SIDE = 448
#: The copy kept for display and heatmap overlays: longest side at most this.
DISPLAY_SIDE = 1024
#: Below this contrast (0..1) between ink and background there is nothing drawn.
MIN_CONTRAST = 0.12
#: Ink stronger than this (0..1, after stretching) is kept as ink.
INK_LEVEL = 0.2
#: Stroke width is measured on the oversampled crop thresholded here (mid-edge of the
#: antialiased stroke, so a pen's width is not inflated by its soft rim).
STROKE_LEVEL = 0.35
#: After a pen change the crop is re-trimmed to ink above this (keeps the soft rim).
TRIM_LEVEL = 0.05
#: Specks smaller than this fraction of the largest ink component are noise.
SPECK_FRACTION = 0.04
#: MNIST's stroke width in pixels of the 20x20 box: 5th, 50th and 95th percentiles
#: measured on its test set with `stroke_width` (1.6, 2.5, 4.0). Pens outside the
#: band are brought to the median; MNIST-like strokes are left alone.
STROKE_BAND = (1.7, 3.9)
STROKE_TARGET = 2.5
#: Stroke normalisation runs on the crop resized to this many times the box side.
STROKE_OVERSAMPLE = 4
#: "Too small to read" (measured on the realistic sets of benchmarks/realistic.py, where
#: no digit comes within 10 % of these): ink whose longest side is under this many
#: stroke widths is a dot or a blob (a round tap measures 2.0; the most smeared
#: marker 8 on the canvas set 2.4) ...
MIN_EXTENT_STROKES = 2.2
#: ... or ink under this fraction of the image's longest side AND under
#: SHORT_MARK_STROKES widths long is a short tick (the smallest digits: 0.10 of a
#: photo at 4+ widths, or 0.14 at 3.1) ...
SHORT_MARK_FRACTION = 0.12
SHORT_MARK_STROKES = 3.5
#: ... and any mark under this fraction of the longest side is too small to read.
MIN_EXTENT_FRACTION = 0.05
#: A single straight stroke (its ink spread across its own axis by
#: under STRAIGHT_SPREAD stroke widths: a clean bar measures 0.29, a short straight
#: stroke at most 0.46) shorter than SHORT_STROKE_FRACTION of the image's longest side
#: is a short stroke, not a 1. Where the line is drawn: issue #9's short stroke is
#: 10-40 pixels (plus its pen) on the 280-pixel canvas, at most 0.154 of it measured
#: on 1,000 of them; a written 1 is as tall as a digit, and on the realistic sets no
#: canvas 1 is under 0.26 of the canvas, but the smallest photographed ones are: 6 and
#: 10 in 1,000 photos (two seeds; straight 1s at 0.14-0.16 of the photo) fall under the
#: line and are refused ("if it is a 1, write it larger") rather than answered.
SHORT_STROKE_FRACTION = 0.16
STRAIGHT_SPREAD = 0.5
#: Random noise, not a drawing: the median absolute difference between neighbouring
#: pixels of the working copy (0..1). Uniform noise measures 0.19 in colour, 0.29 grey
#: (28-448 pixels a side); every realistic digit set of benchmarks/realistic.py at most
#: 0.016 (photos with grain, blur and JPEG included): a drawing's edges are too few to
#: move a median. Noise larger than WORKING_SIDE is averaged down when shrunk (2000
#: pixels a side: 0.04-0.06 on the working copy), so a larger image is also measured on
#: a window of its own pixels (NOISE_WINDOW, centred), where noise of any size measures
#: as above (`python -m benchmarks.large_noise`).
NOISE_TEXTURE = 0.08
#: Side of that native-resolution window: the working side, so a large image costs one
#: more working-copy-sized count (~0.2 ms), and an image that needs no shrinking none.
NOISE_WINDOW = WORKING_SIDE


@dataclass(frozen=True)
class Geometry:
    """How the 28x28 input maps back onto the (display copy of the) original image.

    The ink was analysed on a working copy of `work_hw` pixels; `box` (y0, y1,
    x0, x1) is the crop in working pixels; the crop was resized to `fitted_hw`
    and pasted with its top-left corner at `offset` (row, col) in the 28x28
    field. `display_hw` is the size of `Preprocessed.original`.
    """

    display_hw: tuple[int, int]
    work_hw: tuple[int, int]
    box: tuple[int, int, int, int]
    fitted_hw: tuple[int, int]
    offset: tuple[int, int]


@dataclass(frozen=True)
class Preprocessed:
    """Every stage, for inspection. All maps are float32 in [0, 1]."""

    display: Image.Image  # the input, EXIF-rotated, longest side <= DISPLAY_SIDE
    gray: np.ndarray  # (h, w) luminance of the working copy
    ink: np.ndarray  # (h, w) ink strength, background removed, polarity fixed
    mask: np.ndarray  # (h, w) bool, the ink that was kept (specks removed)
    cropped: np.ndarray  # ink inside the bounding box
    fitted: np.ndarray  # the crop resized to fit 20x20 (or 28x28 for fashion)
    x: np.ndarray  # (28, 28) the model input, MNIST format
    geometry: Geometry
    polarity: Literal["dark-on-light", "light-on-dark", "alpha"]
    recipe: Recipe

    @cached_property
    def original(self) -> np.ndarray:
        """(H, W, 3) uint8 for display: transparency shown over black, like the canvas."""
        return _display_rgb(self.display)

    def project_back(self, heatmap: np.ndarray) -> np.ndarray:
        """A (28, 28) map on the model input -> (H, W) float32 on `original`."""
        return project_back(heatmap, self.geometry)


# ---------------------------------------------------------------- decoding


def _decode(image: ImageInput, max_pixels: int) -> Image.Image:
    """Open any supported input as a PIL image, EXIF orientation applied."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise EmptyImageError("the file is empty (0 bytes)")
        source: object = io.BytesIO(image)
    elif isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ImageError(f"no such file: {path}")
        if path.stat().st_size == 0:
            raise EmptyImageError("the file is empty (0 bytes)")
        source = path
    else:
        raise ImageError(f"unsupported input type {type(image).__name__}")

    try:
        img = Image.open(source)  # reads the header only
        w, h = img.size
        # Our own cap, checked before decoding; no global PIL state is touched, so
        # concurrent requests with different caps are safe.
        if w * h > max_pixels:
            raise ImageTooLargeError(
                f"the image is too large ({w}x{h} pixels; the limit is {max_pixels:,} pixels)"
            )
        if img.format == "JPEG" and max(w, h) > 2 * DISPLAY_SIDE:
            img.draft(img.mode, (DISPLAY_SIDE, DISPLAY_SIDE))  # decode at 1/2..1/8 scale
        img.load()  # decode now, so corrupt data fails here
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher cap: quote ours
        raise ImageTooLargeError(
            f"the image is too large (the limit is {max_pixels:,} pixels)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image, or a format that cannot be read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image is corrupt or truncated ({exc})") from exc
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF/WebP, multi-page TIFF: the first frame
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the picture
        return img


def _from_array(a: np.ndarray) -> Image.Image:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, uint8 or float in [0, 1]."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4); got {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ImageError("the image array holds NaN or infinite values")
        if a.max() > 1.0:  # 0..255 (or 16-bit) values given as floats/ints
            a = a / (65535.0 if a.max() > 255 else 255.0)
        a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(a)


_NATIVE = ("L", "LA", "RGB", "RGBA", "I", "F")


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Any PIL mode -> L, LA, RGB, RGBA, I (16/32-bit integer) or F; keeps transparency."""
    if img.mode in _NATIVE:
        return img
    try:
        if img.mode.startswith("I;16"):
            return img.convert("I")
        if img.mode in ("P", "PA") or "transparency" in img.info:
            return img.convert("RGBA")
        if img.mode in ("La", "RGBa"):
            return img.convert("RGBA")
        if img.mode == "1":
            return img.convert("L")
        return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    except (ValueError, OSError) as exc:
        raise ImageError(f"unsupported colour mode {img.mode!r} ({exc})") from exc


def _shrink(img: Image.Image, side: int) -> Image.Image:
    """Antialiased copy whose longest side is at most `side` (the image itself if smaller)."""
    w, h = img.size
    if max(w, h) <= side:
        return img
    s = side / max(w, h)
    return img.resize((max(round(w * s), 1), max(round(h * s), 1)), Image.Resampling.BOX)


def _to_float(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(luminance (H, W), alpha (H, W) or None), float32 in [0, 1], from a normalised mode."""
    if img.mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ImageError("the image holds NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if img.mode == "F" and lo >= 0 and hi <= 1.0:
            return a, None  # float data already in [0, 1] (scientific TIFFs)
        scale = 65535.0 if hi > 255 else 255.0
        if lo >= 0 and hi <= scale:
            return a / scale, None
        return (a - lo) / max(hi - lo, 1e-6), None  # signed or float data: stretch
    alpha = None
    if img.mode in ("LA", "RGBA"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
    gray = np.asarray(img if img.mode == "L" else img.convert("L"), dtype=np.float32) / 255.0
    return gray, alpha


def _display_rgb(img: Image.Image, alpha_bg: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 to show the user; transparency over black, like the canvas."""
    if img.mode in ("I", "F"):
        gray, _ = _to_float(img)
        return np.repeat((gray[..., None] * 255).astype(np.uint8), 3, axis=2)
    rgba = img.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (alpha_bg, alpha_bg, alpha_bg, 255))
    return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))


# ---------------------------------------------------------------- filters
# OpenCV for the filters on the hot path: the same numbers as scipy.ndimage's
# (tests/model/test_preprocessing.py compares them), 5-20x faster on a 280x280 drawing.

cv2.setNumThreads(1)  # sub-millisecond filters: a thread pool would cost more than it saves
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)  # scipy's default structure
_SQUARE = np.ones((3, 3), np.uint8)


@lru_cache(maxsize=64)
def _gaussian_kernel(sigma: float, truncate: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian kernel: radius int(truncate * sigma + 0.5), sum 1."""
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian(a: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(a, sigma, truncate=truncate) of a (h, w) float32 map:
    the same kernel, the same mirrored edges ('reflect' = OpenCV's BORDER_REFLECT)."""
    kernel = _gaussian_kernel(float(sigma), float(truncate))
    a = np.ascontiguousarray(a, dtype=np.float32)
    return cv2.sepFilter2D(a, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def smooth_opening(a: np.ndarray, size: int) -> np.ndarray:
    """uniform_filter(grey_opening(a, size), size) of scipy.ndimage, for a (h, w) float32
    map: a slow background estimate. Erosion then dilation with a flat size x size
    square, anchored as scipy anchors them (for an even size the dilation's window
    sits one pixel further on), then a mean over the same square with mirrored edges."""
    square = np.ones((size, size), np.uint8)
    anchor = (size - 1) // 2
    opened = cv2.dilate(
        cv2.erode(np.ascontiguousarray(a, np.float32), square), square, anchor=(anchor, anchor)
    )
    return cv2.blur(opened, (size, size), borderType=cv2.BORDER_REFLECT)


def percentile(a: np.ndarray, q: float) -> float:
    """np.percentile(a, q) (linear interpolation) by one partial sort, without numpy's
    general machinery (which costs more than the sort on a small sample)."""
    v = np.ravel(a)
    k = (v.size - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, v.size - 1)
    part = np.partition(v, (lo, hi))
    return float(part[lo] + (part[hi] - part[lo]) * (k - lo))


def max_filter(mask: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """(h, w) bool mask dilated by a uint8 footprint (scipy's maximum_filter on a mask)."""
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), footprint).astype(bool)


# ---------------------------------------------------------------- ink


def _resize(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Antialiased resize of a float map (area filter down, bilinear up)."""
    h, w = hw
    if a.shape == (h, w):
        return a.astype(np.float32, copy=True)
    down = h < a.shape[0] or w < a.shape[1]
    out = Image.fromarray(a.astype(np.float32), mode="F").resize(
        (w, h), Image.Resampling.BOX if down else Image.Resampling.BILINEAR
    )
    return np.asarray(out, dtype=np.float32)


def ink_map(
    gray: np.ndarray, alpha: np.ndarray | None, strokes: bool = True
) -> tuple[np.ndarray, str]:
    """(ink (h, w) float32 in [0, 1], polarity): how strongly each pixel is ink.

    Transparency, where the image has any, marks the ink (the canvas draws
    opaque strokes on a transparent field). Otherwise the background's
    brightness sets the polarity, and a white top-hat (the image minus its
    morphological opening, larger than any stroke) removes uneven lighting
    and paper shading, leaving only thin, locally contrasting marks. With
    `strokes=False` (filled objects such as garments) only the background level
    is subtracted, so large solid shapes survive.
    """
    if alpha is not None and (alpha < 0.5).mean() > 0.05:
        return alpha.astype(np.float32), "alpha"

    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    border_level = float(np.median(border))
    dark_on_light = border_level > 0.5
    x = 1.0 - gray if dark_on_light else gray
    polarity = "dark-on-light" if dark_on_light else "light-on-dark"

    # Background estimate on a coarse grid: the opening removes everything narrower
    # than ~1/5 of the image (strokes), keeping the slow lighting gradient.
    background_level = 1.0 - border_level if dark_on_light else border_level
    ink = x - background_level
    if strokes:
        # Background estimate on a coarse grid: the opening removes everything narrower
        # than a third of the image (strokes), keeping slow lighting gradients and shadows.
        f = TOPHAT_SIDE / max(h, w)
        small = _resize(x, (max(int(h * f), 1), max(int(w * f), 1)))
        size = max(TOPHAT_SIDE // 3, 3)
        background = smooth_opening(small, size)
        # Only uneven light needs the top-hat; on a flat field (the canvas, a scan) it
        # would only hollow out very thick strokes.
        if float(np.ptp(background)) > UNEVEN_LIGHT:
            tophat = x - _resize(background, (h, w))
            if _hollowed(ink, tophat) >= HOLLOW_MAX:
                # Strokes as wide as the opening (a tight crop of a marker digit): a
                # wider opening keeps them whole and still follows the lighting.
                big = max(TOPHAT_SIDE * 2 // 3, 3)
                background = smooth_opening(small, big)
                tophat = x - _resize(background, (h, w))
            ink = tophat

    # Paper grain and sensor noise: a light blur, then everything below a noise
    # floor goes to zero and the rest is stretched to full strength.
    ink = gaussian(ink, sigma=max(min(h, w) / 400, 0.5), truncate=2.5)
    # Statistics on every other pixel: the same levels at a quarter of the cost.
    sample = ink[::2, ::2]
    peak = percentile(sample, 99.9)
    if peak < MIN_CONTRAST:
        return np.zeros_like(ink, dtype=np.float32), polarity
    positive = sample[sample > 0]
    floor = max(_otsu(positive) * 0.5, 0.25 * peak) if positive.size else peak
    ink = np.clip((ink - floor) / max(peak - floor, 1e-6), 0.0, 1.0)
    return ink.astype(np.float32), polarity


def _hollowed(flat: np.ndarray, tophat: np.ndarray) -> float:
    """Share of the strongest ink (above a flat background) that the top-hat more than halves.

    Shadows are weaker than ink, and lie away from the strokes the top-hat kept, so
    they are not counted; the insides of thick strokes (whose edges it kept) are.
    """
    strong = flat > STRONG_INK * percentile(flat[::2, ::2], 99.9)
    kept = tophat > 0.5 * percentile(tophat[::2, ::2], 99.9)
    near = max(max(flat.shape) // NEAR_STROKE_DIV, 3)
    strong &= max_filter(kept, np.ones((near, near), np.uint8))
    if not strong.any():
        return 0.0
    return float((tophat[strong] < 0.5 * flat[strong]).mean())


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold of a 1-D sample."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    return float(centres[np.argmax(w0 * w1 * (m0 - m1) ** 2)])


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Bool mask of the ink worth keeping: strong pixels, minus specks far smaller than the rest."""
    mask = ink > INK_LEVEL
    if not mask.any():
        return mask
    # Every component lies inside the ink's box: label that only (8-connected).
    y0, y1, x0, x1 = _bbox(mask)
    n, labels = cv2.connectedComponents(mask[y0:y1, x0:x1].view(np.uint8), connectivity=8)
    if n > 2:  # label 0 is the background
        sizes = np.bincount(labels.ravel(), minlength=n)[1:]
        keep = np.zeros(n, bool)
        keep[1:] = sizes >= SPECK_FRACTION * sizes.max()
        mask = np.zeros_like(mask)
        mask[y0:y1, x0:x1] = keep[labels]
    return mask


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary drawing: 2 * area / boundary length."""
    inner = cv2.erode(mask.view(np.uint8), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    area = int(np.count_nonzero(mask))
    boundary = area - int(np.count_nonzero(inner))
    return 2.0 * area / max(float(boundary), 1.0)


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return xx**2 + yy**2 <= radius**2 + radius * 0.5


def normalise_stroke(crop: np.ndarray, per_px: float) -> np.ndarray:
    """Bring a pen far thinner or thicker than MNIST's to MNIST's stroke width.

    crop: ink of the digit, oversampled (with room around it to grow);
    per_px: pixels of the final 20x20 box per crop pixel. A 1-pixel pen or a
    marker that fills the loops are both far from what the model learnt;
    the crop is returned unchanged (the same object) when the pen is MNIST-like.
    """
    mask = crop > STROKE_LEVEL
    if not mask.any():
        return crop
    width = stroke_width(mask) * per_px
    if STROKE_BAND[0] <= width <= STROKE_BAND[1]:
        return crop
    radius = round(abs(STROKE_TARGET - width) / per_px / 2)
    if radius < 1:
        return crop
    op = cv2.dilate if width < STROKE_TARGET else cv2.erode
    # Beyond the edges: the nearest pixels (what scipy's grey_dilation/erosion reflect).
    out = op(crop, _disk(radius).view(np.uint8), borderType=cv2.BORDER_REPLICATE)
    return out if (out > STROKE_LEVEL).any() else crop


# ---------------------------------------------------------------- geometry


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit(crop: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longest side is `side`, keeping the aspect ratio (antialiased)."""
    h, w = crop.shape
    s = side / max(h, w)
    return _resize(crop, (max(round(h * s), 1), max(round(w * s), 1)))


def _paste(fitted: np.ndarray, centre_of_mass: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """Place `fitted` in a 28x28 field, by centre of mass (MNIST) or by its box (Fashion)."""
    h, w = fitted.shape
    if centre_of_mass and fitted.sum() > 0:
        cy, cx = ndimage.center_of_mass(fitted)
        oy, ox = round(14 - cy - 0.5), round(14 - cx - 0.5)
    else:
        oy, ox = (28 - h) // 2, (28 - w) // 2
    # Keep the whole digit inside the field even if its mass is far off-centre.
    oy, ox = int(np.clip(oy, 0, 28 - h)), int(np.clip(ox, 0, 28 - w))
    field = np.zeros((28, 28), np.float32)
    field[oy : oy + h, ox : ox + w] = fitted
    return field, (oy, ox)


def project_back(heatmap: np.ndarray, g: Geometry) -> np.ndarray:
    """Undo centring, fitting, cropping and scaling: (28, 28) -> display (H, W).

    The whole 28x28 field is mapped back through the inverse of the pipeline's
    affine steps, not just the part where the ink's box was pasted: evidence the
    model found beside the strokes stays beside them. Where the field reaches past
    the image it is clipped; display pixels outside the field get 0.
    """
    hm = np.asarray(heatmap, np.float32)
    oy, ox = g.offset
    fh, fw = g.fitted_hw
    y0, y1, x0, x1 = g.box
    sy, sx = (y1 - y0) / fh, (x1 - x0) / fw  # working pixels per field pixel
    (dh, dw), (wh, ww) = g.display_hw, g.work_hw
    # Pixel centres of the display, in working pixels, then in field pixels.
    wy = (np.arange(dh, dtype=np.float64) + 0.5) * wh / dh
    wx = (np.arange(dw, dtype=np.float64) + 0.5) * ww / dw
    fy = (wy - y0) / sy + oy - 0.5
    fx = (wx - x0) / sx + ox - 0.5
    coords = np.meshgrid(fy, fx, indexing="ij")
    out = ndimage.map_coordinates(hm, coords, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------- pipeline


def texture(gray: np.ndarray) -> float:
    """Median absolute difference between neighbouring pixels of (h, w) values in [0, 1].

    About 0 for drawings and photos of paper, ~0.19 for uniform noise. Every second row
    (and column) is enough for a median and halves the cost.
    """
    d = _neighbour_differences(gray)
    return float(np.median(d)) if d.size else 0.0


def _neighbour_differences(gray: np.ndarray) -> np.ndarray:
    """|differences| between horizontal and vertical neighbours, every second row/column."""
    if min(gray.shape) < 2:
        return np.zeros(0, np.float32)
    rows, cols = gray[::2], gray[:, ::2]
    dx = cv2.absdiff(rows[:, 1:], rows[:, :-1]).ravel()
    dy = cv2.absdiff(cols[1:], cols[:-1]).ravel()
    return np.concatenate([dx, dy])


def _central_window(img: Image.Image, side: int) -> Image.Image:
    """The centred crop of at most `side` x `side` pixels of `img`, at its own resolution."""
    w, h = img.size
    x0, y0 = max((w - side) // 2, 0), max((h - side) // 2, 0)
    return img.crop((x0, y0, x0 + min(side, w), y0 + min(side, h)))


def _opaque(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Luminance as seen over black: transparent pixels count as background."""
    return gray if alpha is None else gray * alpha


def _is_noise(img: Image.Image, gray: np.ndarray, alpha: np.ndarray | None) -> bool:
    """Noise on the working copy (gray, alpha) or, if `img` was shrunk to make it, on
    a NOISE_WINDOW window of `img` at its own resolution (shrinking averages noise away)."""
    if looks_like_noise(_opaque(gray, alpha)):
        return True
    if max(img.size) <= WORKING_SIDE:
        return False  # the working copy is the image: nothing was averaged
    return looks_like_noise(_opaque(*_to_float(_central_window(img, NOISE_WINDOW))))


def looks_like_noise(gray: np.ndarray) -> bool:
    """`texture(gray) > NOISE_TEXTURE`, decided by counting instead of a median: the
    median exceeds the threshold exactly when more than half the differences do
    (a comparison is several times cheaper than the partial sort a median needs)."""
    d = _neighbour_differences(gray)
    return 2 * int(np.count_nonzero(d > NOISE_TEXTURE)) > d.size


def straight_spread(kept: np.ndarray, width: float) -> float:
    """How far (h, w) bool ink spreads across its principal axis, in stroke widths.

    The standard deviation of the ink's pixel positions along the minor axis of their
    covariance: a straight bar of width w measures w / sqrt(12), i.e. 0.29 widths; any
    bend, hook or second stroke adds to it.
    """
    yy, xx = np.nonzero(kept)
    if len(yy) < 3:
        return 0.0
    cov = np.cov(np.stack([yy, xx]).astype(np.float64))
    minor = float(np.linalg.eigvalsh(cov)[0])
    return float(np.sqrt(max(minor, 0.0))) / max(width, 1.0)


def _is_short_straight_stroke(kept: np.ndarray, width: float, fraction: float) -> bool:
    """Straight ink (a stroke, or dashes along one line) under SHORT_STROKE_FRACTION."""
    return fraction < SHORT_STROKE_FRACTION and straight_spread(kept, width) < STRAIGHT_SPREAD


def _check_size(kept: np.ndarray, work_hw: tuple[int, int]) -> None:
    """Raise TooSmallError for a dot, a tap or a short tick: nothing there to read.

    kept: (h, w) bool, the kept ink inside its bounding box (working pixels).
    """
    extent = float(max(kept.shape))
    width = stroke_width(kept)
    strokes = extent / max(width, 1.0)  # length in stroke widths
    fraction = extent / float(max(work_hw))
    if (
        strokes < MIN_EXTENT_STROKES
        or fraction < MIN_EXTENT_FRACTION
        or (fraction < SHORT_MARK_FRACTION and strokes < SHORT_MARK_STROKES)
    ):
        raise TooSmallError(
            "the mark is too small to read (a dot or a short tick); "
            "draw or write the whole digit, larger"
        )
    if _is_short_straight_stroke(kept, width, fraction):
        raise TooSmallError(
            "the mark is a single short stroke, too small to read; if it is a 1, write it larger"
        )


def load_image(image: ImageInput, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode any supported input to a PIL image (EXIF-rotated), or raise ImageError."""
    return _decode(image, max_pixels)


def preprocess_stages(
    image: ImageInput, recipe: Recipe = "mnist", max_pixels: int = MAX_PIXELS
) -> Preprocessed:
    """Run the whole pipeline and keep every stage. Raises ImageError / BlankImageError."""
    img = _normalise_mode(_decode(image, max_pixels))
    if min(img.size) < 1:
        raise ImageError("the image has no pixels")
    work = _shrink(img, WORKING_SIDE)
    display = _shrink(img, DISPLAY_SIDE)
    gray, alpha = _to_float(work)
    work_hw = gray.shape
    if _is_noise(img, gray, alpha):
        raise NoiseImageError("the image looks like random noise: no strokes were found on it")
    del img  # a large original need not outlive this call

    ink, polarity = ink_map(gray, alpha, strokes=recipe == "mnist")
    mask = ink_mask(ink)
    if mask.sum() < 4:
        raise BlankImageError("the image looks blank: no digit or drawing was found on it")
    box = _bbox(mask)
    y0, y1, x0, x1 = box
    _check_size(mask[y0:y1, x0:x1], work_hw)
    # Soft ink inside the kept components (with a 1-pixel halo for antialiased edges).
    # (3x3 max filter on the box only: the same as a binary dilation, at a fraction of the cost)
    keep = max_filter(mask[y0:y1, x0:x1], _SQUARE)
    cropped = ink[y0:y1, x0:x1] * keep

    side = 20 if recipe == "mnist" else 28
    fitted = _fit(cropped, side)
    if recipe == "mnist":
        # Stroke width is set on an oversampled crop with room to grow; a changed
        # pen changes the box, which is re-trimmed and mapped back to working pixels.
        big = _fit(cropped, side * STROKE_OVERSAMPLE)
        f = big.shape[0] / cropped.shape[0]  # oversampled pixels per working pixel
        pad = side * STROKE_OVERSAMPLE // 8
        big = np.pad(big / max(float(big.max()), 1e-6), pad)
        normalised = normalise_stroke(big, side / (side * STROKE_OVERSAMPLE))
        if normalised is not big:
            by0, by1, bx0, bx1 = _bbox(normalised > TRIM_LEVEL)
            fitted = _fit(normalised[by0:by1, bx0:bx1], side)
            box = (
                round(y0 + (by0 - pad) / f),
                round(y0 + (by1 - pad) / f),
                round(x0 + (bx0 - pad) / f),
                round(x0 + (bx1 - pad) / f),
            )
    if fitted.max() > 0:
        fitted = fitted / fitted.max()
    x, offset = _paste(fitted, centre_of_mass=recipe == "mnist")
    geometry = Geometry((display.height, display.width), work_hw, box, fitted.shape, offset)
    return Preprocessed(
        display=display,
        gray=gray,
        ink=ink,
        mask=mask,
        cropped=cropped,
        fitted=fitted,
        x=x,
        geometry=geometry,
        polarity=polarity,
        recipe=recipe,
    )


def preprocess(image: ImageInput, recipe: Recipe = "mnist") -> np.ndarray:
    """Any image -> (28, 28) float32 in [0, 1], white ink on black, ready for the model."""
    return preprocess_stages(image, recipe).x


def naive_resize(image: ImageInput) -> np.ndarray:
    """The baseline many tutorials use: grayscale, squash to 28x28, nothing else."""
    img = _normalise_mode(_decode(image, MAX_PIXELS)).convert("L")
    img = img.resize((28, 28), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0
