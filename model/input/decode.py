"""Any image input -> a PIL image, safely: size capped before decoding, EXIF applied,
every PIL mode (palette, 16-bit, float, CMYK, transparency) brought to a few known ones.

Shared by the digit recipes (`model.input.preprocessing`) and photos (`model.input.photo`).
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.errors import EmptyImageError, ImageError, ImageTooLargeError
from model.input.png import SIGNATURE as PNG_SIGNATURE
from model.input.png import Planes, decode_png, png_within, read_planes

#: What every entry point accepts as an image.
ImageInput = str | os.PathLike | bytes | bytearray | Image.Image | np.ndarray
#: Images above this many pixels are refused before decoding (decompression bombs).
#: The one default for the library, the app and the server (`--max-pixels`,
#: DIGITLENS_MAX_PIXELS): a 48 MP phone photo passes; decoding stays under ~200 MB.
MAX_PIXELS = 50_000_000
# Pillow warns about an image over its own cap (89 MP) as it reads the header; ours is
# checked right after and refuses it in words, so its warning only printed noise beside
# our message (`python -m model.audit --number` on a 100 MP file).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
#: Ink analysis runs on a copy whose longest side is at most this (speed on phone photos).
WORKING_SIDE = 448
#: The copy kept for display and heatmap overlays: longest side at most this.
DISPLAY_SIDE = 1024
#: `info` key of a JPEG decoded at a scale (`decode`): original pixels per decoded pixel.
DRAFT_SCALE = "digitlens_draft_scale"


def load_image(image: ImageInput, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode any supported input to a PIL image (EXIF-rotated), or raise ImageError."""
    return decode(image, max_pixels)


def decode(
    image: ImageInput, max_pixels: int, fast_png: bool = True, gray: bool = False
) -> Image.Image:
    """Open any supported input as a PIL image, EXIF orientation applied. fast_png=False:
    a PNG goes to Pillow straight away (the fast decoder already declined it). gray: only
    the luminance is needed, and a colour JPEG is decoded as its luma (mode L: the same
    levels as Pillow's RGB -> L on the photo numbers measured, in under half the time)."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return from_array(image)
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise EmptyImageError("the file is empty (0 bytes)")
        if fast_png and image[:8] == PNG_SIGNATURE:  # a canvas export: the fast path
            fast = decode_png(bytes(image), max_pixels)
            if fast is not None:
                return fast
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
        if img.format == "JPEG":
            mode = "L" if gray and img.mode == "RGB" else img.mode
            large = max(w, h) > 2 * DISPLAY_SIDE  # decode at 1/2..1/8 scale
            if large or mode != img.mode:
                img.draft(mode, (DISPLAY_SIDE, DISPLAY_SIDE) if large else (w, h))
                # original pixels per decoded pixel (Pillow's copies keep `info`)
                img.info[DRAFT_SCALE] = w / img.size[0]
        img.load()  # decode now, so corrupt data fails here
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher cap: quote ours
        raise ImageTooLargeError(
            f"the image is too large (the limit is {max_pixels:,} pixels)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image, or a format that cannot be read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # (Pillow's words: its own,
        # "image file is truncated (24 bytes not processed)", kept on the cause, not said)
        if isinstance(exc, ValueError) and (
            "MAX_TEXT_CHUNK" in str(exc) or "MAX_TEXT_MEMORY" in str(exc)
        ):
            # (a text chunk that inflates past Pillow's cap, 1 MB: a bomb's way in, so
            # refused, but it is no corrupt picture, which is what a user test was told)
            raise ImageError(
                "the image's text metadata is too large to read safely: save the picture "
                "again without its metadata"
            ) from exc
        raise ImageError("the image is corrupt or truncated: part of it cannot be read") from exc
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF/WebP, multi-page TIFF: the first frame
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the picture
        return img


def frame_count(image: ImageInput) -> int:
    """How many frames (an animated GIF, WebP or PNG) or pages (a TIFF) an image file holds;
    1 for anything else, or a file Pillow cannot open. Only the first is ever read."""
    if isinstance(image, (bytes, bytearray)):
        source = io.BytesIO(image)
    elif isinstance(image, (str, os.PathLike)):
        source = image
    else:
        return 1
    try:
        with warnings.catch_warnings(), Image.open(source) as img:
            warnings.simplefilter("ignore")  # (a decompression-bomb warning: said elsewhere)
            return max(int(getattr(img, "n_frames", 1)), 1)
    except Exception:  # noqa: BLE001  (not an image, or a broken one: its reading says why)
        return 1


def _unit(levels: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> levels / 255 in float32, what to_float's float32 division gives
    (OpenCV's division: the same numbers for every byte, in 0.6x the time)."""
    return cv2.divide(levels, 255.0, dtype=cv2.CV_32F)


@dataclass(frozen=True)
class SmallPng:
    """A small PNG read as planes (`decode_small_png`): its luminance, alpha and levels as
    the digit pipeline reads them, bit for bit what `to_float(normalise_mode(decode(...)))`
    gives, each made when first asked for: a canvas whose ink is its alpha needs neither
    its colour nor its luminance for an answer. Its Pillow image (`image`) is made only
    when something shows it (a merge of the planes and a 300 KB image: about a tenth of
    reading a canvas, docs/reference/preprocessing.md)."""

    source: Planes

    @property
    def mode(self) -> str:
        """Pillow's: L, LA, RGB or RGBA."""
        return self.source.mode

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as a Pillow image's."""
        h, w = self.source.shape
        return w, h

    @cached_property
    def planes(self) -> tuple[np.ndarray, ...]:
        """One (h, w) uint8 per channel (a grey pen's red, green and blue: one array)."""
        return tuple(self.source.plane(i) for i in range(self.source.channels))

    @cached_property
    def levels(self) -> np.ndarray:
        """(h, w) uint8: the luminance's levels."""
        if self.mode in ("L", "LA") or self.source.grey:
            # Pillow's luminance, (19595 R + 38470 G + 7471 B + 32768) >> 16, is R where
            # R = G = B (the weights sum to 65536); L and LA images are their first band.
            return self.source.plane(0)
        return np.asarray(self.image.convert("L"))  # (a colour pen: rare)

    @cached_property
    def gray(self) -> np.ndarray:
        """(h, w) float32 luminance in [0, 1]: levels / 255."""
        return _unit(self.levels)

    @cached_property
    def alpha_levels(self) -> np.ndarray | None:
        """(h, w) uint8 alpha, where the PNG has it."""
        if self.mode not in ("LA", "RGBA"):
            return None
        return self.source.plane(self.source.channels - 1)

    @cached_property
    def alpha(self) -> np.ndarray | None:
        """(h, w) float32 alpha in [0, 1], where the PNG has it."""
        return None if self.alpha_levels is None else _unit(self.alpha_levels)

    @cached_property
    def image(self) -> Image.Image:
        """The Pillow image the planes make (mode `mode`)."""
        return _planes_image(self.mode, self.planes)


def _planes_image(mode: str, planes: tuple[np.ndarray, ...]) -> Image.Image:
    return Image.fromarray(cv2.merge(planes) if len(planes) > 1 else planes[0], mode)


def decode_small_png(image: ImageInput, max_pixels: int, side: int) -> SmallPng | None:
    """A PNG the fast decoder reads (`model.input.png.read_planes`) whose longest side
    is at most `side` (a canvas export), read from its planes instead of through a Pillow
    image; None for any other input (the caller then decodes it)."""
    if not isinstance(image, (bytes, bytearray)) or image[:8] != PNG_SIGNATURE:
        return None
    planes = read_planes(bytes(image), max_pixels, side)
    if planes is None:
        return None  # (`declined_small_png` says whether decode_png would decline it too)
    return SmallPng(planes)


def declined_small_png(image: ImageInput, side: int) -> bool:
    """Whether `image` is a PNG whose header says it is at most `side` pixels a side: one
    `decode_small_png` declined is then one the fast decoder declines whole (the same
    checks and filters), so Pillow need not wait for a second inflate."""
    return isinstance(image, (bytes, bytearray)) and png_within(image, side)


def from_array(a: np.ndarray) -> Image.Image:
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
        a = _levels(a)
    return Image.fromarray(a)


def _levels(a: np.ndarray) -> np.ndarray:
    """A float64 array (a copy: changed in place) -> uint8 levels, clipped to [0, 1] and
    rounded: `from_array`'s and `small_gray_array`'s (which must agree bit for bit)."""
    np.clip(a, 0.0, 1.0, out=a)
    a *= 255
    a += 0.5
    return a.astype(np.uint8)


def small_gray_array(image: ImageInput, side: int) -> tuple[Image.Image, np.ndarray] | None:
    """A (h, w) float array in [0, 1] of at most `side` pixels a side (a number's digit cut
    out, `model.input.segment`) as (its Pillow image, its luminance (h, w) float32): bit for
    bit what `from_array`, `normalise_mode` and `to_float` give, without the trip through
    Pillow. None for any other input."""
    if not (isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype.kind == "f"):
        return None
    if min(image.shape) < 1 or max(image.shape) > side:
        return None
    a = image.astype(np.float64)
    if not (a.max() <= 1.0 and a.min() > -np.inf):  # (NaN fails both)
        return None  # (refused, or scaled from 0..255, by `from_array`)
    levels = _levels(a)
    return Image.fromarray(levels), _unit(levels)


def working_copy(
    image: ImageInput, max_pixels: int
) -> tuple[Image.Image, Image.Image, np.ndarray, np.ndarray | None]:
    """(the image, its copy for display, the working copy's luminance and alpha) of any
    input but a small PNG (`decode_small_png`), as the digit pipeline reads it."""
    array = small_gray_array(image, WORKING_SIDE)  # a number's digit: no trip through Pillow
    if array is not None:
        return array[0], array[0], array[1], None
    fast_png = not declined_small_png(image, WORKING_SIDE)  # (not read twice)
    img = normalise_mode(decode(image, max_pixels, fast_png))
    if min(img.size) < 1:
        raise ImageError("the image has no pixels")
    return img, shrink(img, DISPLAY_SIDE), *to_float(shrink(img, WORKING_SIDE))


_NATIVE = ("L", "LA", "RGB", "RGBA", "I", "F")


def normalise_mode(img: Image.Image) -> Image.Image:
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


def shrink(img: Image.Image, side: int) -> Image.Image:
    """Antialiased copy whose longest side is at most `side` (the image itself if smaller)."""
    w, h = img.size
    if max(w, h) <= side:
        return img
    s = side / max(w, h)
    return img.resize((max(round(w * s), 1), max(round(h * s), 1)), Image.Resampling.BOX)


def to_float(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
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


def display_rgb(img: Image.Image, alpha_bg: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 to show the user. Transparency over `alpha_bg`; by default over
    black, like the canvas, unless the opaque ink is dark (black ink on a transparent
    field showed as a black square): then over white."""
    if img.mode in ("I", "F"):
        gray, _ = to_float(img)
        return np.repeat((gray[..., None] * 255).astype(np.uint8), 3, axis=2)
    rgba = img.convert("RGBA")
    if alpha_bg is None:
        a = np.asarray(rgba)
        ink = a[..., 3] >= 128
        dark = ink.any() and a[..., :3][ink].mean() < 128
        alpha_bg = 255 if dark and not ink.all() else 0
    bg = Image.new("RGBA", rgba.size, (alpha_bg, alpha_bg, alpha_bg, 255))
    return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
