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

Kept as one file: the pipeline reads top to bottom in the order its stages run. Decoding
(`model.input.decode`), the ink map's light and noise floor (`model.input.lighting`),
the filters (`model.input.filters`), what is refused (`model.input.refusals`) and the way
back onto the image (`model.input.geometry`) live beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from model.errors import BlankImageError, NoiseImageError
from model.input.blocks import unblocked
from model.input.decode import (
    MAX_PIXELS,
    WORKING_SIDE,
    ImageInput,
    SmallPng,
    _unit,
    decode,
    decode_small_png,
    display_rgb,
    normalise_mode,
    working_copy,
)
from model.input.filters import (
    SQUARE,
    max_filter,
    stroke_width,
)
from model.input.geometry import Geometry, project_back
from model.input.lighting import (
    Polarity,
    _resize,
    lit_ink,
    stretched,
)
from model.input.refusals import NOISE_MESSAGE, check_size, is_noise, small_png_is_noise
from model.input.transparency import opaque_picture

Recipe = Literal["mnist", "fashion"]

#: Ink stronger than this (0..1, after stretching) is kept as ink.
INK_LEVEL = 0.2
#: An image with fewer pixels of ink than this is blank: nothing to read.
MIN_INK_PIXELS = 4
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
#: A number's digits (`piece=True`, `model.number`) also keep the ink above the noise
#: floor that joins the strokes kept (hysteresis: a thin pen's faint arcs, cut by
#: `INK_LEVEL`) ...
FAINT_LEVEL = 0.0
#: ... and thin a pen thicker than `STROKE_BAND` to this width, not to `STROKE_TARGET`
#: (eroding a marker to 2.5 wipes out the loops it half filled).
PIECE_ERODE_TO = 3.0


@dataclass(frozen=True)
class Preprocessed:
    """Every stage, for inspection. All maps are float32 in [0, 1]."""

    # the input, EXIF-rotated, longest side <= DISPLAY_SIDE: a Pillow image, or a small
    # PNG's planes whose image `display` makes on first use, or how to make it (a
    # number's digit: the size of its working copy)
    decoded: Image.Image | SmallPng | Callable[[], Image.Image]
    # (h, w) luminance of the working copy (`gray`), or how to make it: a canvas whose ink
    # is its alpha needs none for its answer
    luminance: np.ndarray | Callable[[], np.ndarray]
    # (h, w) ink strength, background removed, polarity fixed (`ink`), or how to make it
    # (a canvas: its alpha, read from its bytes where the answer needs only a crop)
    ink_source: np.ndarray | Callable[[], np.ndarray]
    mask: np.ndarray  # (h, w) bool, the ink that was kept (specks removed)
    cropped: np.ndarray  # ink inside the bounding box
    fitted: np.ndarray  # the crop resized to fit 20x20 (or 28x28 for fashion)
    x: np.ndarray  # (28, 28) the model input, MNIST format
    geometry: Geometry
    polarity: Polarity
    recipe: Recipe
    # the crop oversampled, as its pen was measured (`oversampled`; MNIST's recipe only)
    oversampled: np.ndarray | None = None

    @cached_property
    def ink(self) -> np.ndarray:
        """(h, w) float32 ink strength in [0, 1] on the working copy."""
        made = self.ink_source
        return made() if callable(made) else made

    @cached_property
    def gray(self) -> np.ndarray:
        """(h, w) luminance of the working copy, as the recipe read it (unblocked)."""
        made = self.luminance
        return made() if callable(made) else made

    @cached_property
    def display(self) -> Image.Image:
        """The input as a Pillow image, EXIF-rotated, longest side <= DISPLAY_SIDE."""
        d = self.decoded
        return d.image if isinstance(d, SmallPng) else d() if callable(d) else d

    @cached_property
    def original(self) -> np.ndarray:
        """(H, W, 3) uint8 for display: transparency shown over black, like the canvas."""
        return display_rgb(self.display)

    def project_back(self, heatmap: np.ndarray) -> np.ndarray:
        """A (28, 28) map on the model input -> (H, W) float32 on `original`."""
        return project_back(heatmap, self.geometry)


# ---------------------------------------------------------------- ink


def _byte_above(level: float) -> int:
    """The largest byte b whose level b / 255 (as `to_float` makes it) is <= `level`: a
    uint8 plane is above `level` exactly where it is above that byte."""
    return int(np.count_nonzero(_unit(np.arange(256, dtype=np.uint8)[None]) <= level)) - 1


#: A canvas's alpha bytes are ink above INK_BYTE and clear up to HALF_BYTE: exactly where
#: their levels / 255 are above INK_LEVEL and under 0.5 (`kept_ink`, `ink_is_alpha`).
INK_BYTE, HALF_BYTE = _byte_above(INK_LEVEL), _byte_above(float(np.nextafter(0.5, 0)))


def clear_share(alpha: np.ndarray | None) -> float:
    """The share of the image that is transparent (alpha under 0.5; counted, not averaged:
    the same share, without a float pass); 0 without an alpha."""
    if alpha is None:
        return 0.0
    clear = alpha <= HALF_BYTE if alpha.dtype == np.uint8 else alpha < 0.5  # (uint8: levels)
    return np.count_nonzero(clear) / alpha.size


def ink_is_alpha(alpha: np.ndarray | None) -> bool:
    """Whether transparency marks the ink (`ink_map`): more than 5 % of the image is
    transparent."""
    return clear_share(alpha) > ALPHA_INK


#: Transparency marks the ink where more than this share of the image is transparent ...
ALPHA_INK = 0.05
#: ... and a canvas's export is read from its alpha alone where at least this share is:
#: strokes on a field (a drawing covers a few percent to a third of its canvas). Where
#: more is opaque, its colours are read, as any transparent PNG's: a cut-out page with
#: paper left round the ink, exported through a canvas, read "7, not a digit" for a 4.
CANVAS_CLEAR = 0.6


def ink_map(
    gray: np.ndarray, alpha: np.ndarray | None, strokes: bool = True
) -> tuple[np.ndarray, str]:
    """(ink (h, w) float32 in [0, 1], polarity): how strongly each pixel is ink.

    Transparency, where the image has any, marks the ink (the canvas draws
    opaque strokes on a transparent field), unless the opaque pixels hold ink enclosed
    by paper (`opaque_picture`: a scan whose paper was made transparent). Otherwise the background's
    brightness sets the polarity, and a white top-hat (the image minus its
    morphological opening, larger than any stroke) removes uneven lighting
    and paper shading, leaving only thin, locally contrasting marks. With
    `strokes=False` (filled objects such as garments) only the background level
    is subtracted, so large solid shapes survive.
    """
    ink, polarity, _ = _ink_map(gray, alpha, strokes)
    return ink, polarity


def _ink_map(
    gray: np.ndarray, alpha: np.ndarray | None, strokes: bool = True
) -> tuple[np.ndarray, str, int | None]:
    """`ink_map`, and the longest side of the sheet the ink lies on where a sheet was
    found in the photo (`model.input.sheet`; marks are sized against it), else None."""
    lit, polarity, paper_side = lit_or_alpha(gray, alpha, strokes)
    if lit is None:
        return np.asarray(alpha, np.float32), "alpha", None  # to_float's own array: no copy
    return stretched(lit), polarity, paper_side


def lit_or_alpha(
    gray: np.ndarray, alpha: np.ndarray | None, strokes: bool = True
) -> tuple[np.ndarray | None, Polarity, int | None]:
    """`ink_map` before its stretch, with the sheet's side (`lit_ink`): (None, "alpha",
    None) where the alpha is the ink, else `lit_ink` of the luminance; of a picture whose
    paper was made transparent, of its luminance with that paper filled in
    (`model.input.transparency`). Filled shapes (`strokes=False`: a garment cut out of its
    photo) are their alpha: a print on a garment was taken for ink on paper, the garment
    for the paper (a review)."""
    if ink_is_alpha(alpha):
        picture = opaque_picture(gray, alpha) if strokes else None  # (None: a pen's strokes)
        if picture is None:
            return None, "alpha", None
        gray = picture
    return lit_ink(gray, strokes)  # (a Lit: ink, polarity, paper_side)


def with_faint(ink: np.ndarray, mask: np.ndarray, level: float = FAINT_LEVEL) -> np.ndarray:
    """`mask` and the ink above `level` 8-connected to it (hysteresis)."""
    n, labels = cv2.connectedComponents(((ink > level) | mask).view(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[labels[mask]] = True
    keep[0] = False
    return keep[labels]


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Bool mask of the ink worth keeping: strong pixels, minus specks far smaller than the rest."""
    return kept_ink(ink)[0]


def kept_ink(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """(`ink_mask(ink)`, its box (y0, y1, x0, x1) where already known: None when the mask is
    empty or specks were taken off it). The box of the strong pixels is found anyway, and
    with no speck taken off it is the mask's: one search of the image less. A uint8 `ink`
    is read as levels (a canvas's alpha bytes, ink / 255: `INK_BYTE`)."""
    mask = ink > (INK_BYTE if ink.dtype == np.uint8 else INK_LEVEL)
    if not mask.any():
        return mask, None
    # Every component lies inside the ink's box: label that only (8-connected).
    box = y0, y1, x0, x1 = _bbox(mask)
    n, labels = cv2.connectedComponents(mask[y0:y1, x0:x1].view(np.uint8), connectivity=8)
    if n > 2:  # label 0 is the background
        sizes = np.bincount(labels.ravel(), minlength=n)[1:]
        keep = np.zeros(n, bool)
        keep[1:] = sizes >= SPECK_FRACTION * sizes.max()
        mask = np.zeros_like(mask)
        mask[y0:y1, x0:x1] = keep[labels]
        return mask, None
    return mask, box


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return xx**2 + yy**2 <= radius**2 + radius * 0.5


def _padded(a: np.ndarray, pad: int) -> np.ndarray:
    """np.pad(a, pad) (zeros on every side) of a 2-D float32 map, without np.pad's overhead."""
    h, w = a.shape
    out = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    out[pad : pad + h, pad : pad + w] = a
    return out


def normalise_stroke(
    crop: np.ndarray,
    per_px: float,
    thin_to: float = STROKE_TARGET,
    thicken_to: float = STROKE_TARGET,
) -> np.ndarray:
    """Bring a pen far thinner or thicker than MNIST's to MNIST's stroke width.

    crop: ink of the digit, oversampled (with room around it to grow);
    per_px: pixels of the final 20x20 box per crop pixel; thin_to / thicken_to: the
    width a pen thicker / thinner than the band is brought to. A 1-pixel pen or a
    marker that fills the loops are both far from what the model learnt;
    the crop is returned unchanged (the same object) when the pen is MNIST-like.
    """
    mask = crop > STROKE_LEVEL
    if not mask.any():
        return crop
    width = stroke_width(mask) * per_px
    if STROKE_BAND[0] <= width <= STROKE_BAND[1]:
        return crop
    target = thicken_to if width < STROKE_TARGET else thin_to
    radius = round(abs(target - width) / per_px / 2)
    if radius < 1:
        return crop
    op = cv2.dilate if width < STROKE_TARGET else cv2.erode
    # Beyond the edges: the nearest pixels (what scipy's grey_dilation/erosion reflect).
    out = op(crop, _disk(radius).view(np.uint8), borderType=cv2.BORDER_REPLICATE)
    return out if (out > STROKE_LEVEL).any() else crop


# ---------------------------------------------------------------- geometry


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of a non-empty (h, w) bool mask's True pixels."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    return y, y + h, x, x + w


def _fit(crop: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longest side is `side`, keeping the aspect ratio (antialiased)."""
    h, w = crop.shape
    s = side / max(h, w)
    return _resize(crop, (max(round(h * s), 1), max(round(w * s), 1)))


def oversampled(cropped: np.ndarray, side: int) -> np.ndarray:
    """The crop fitted to `side` x STROKE_OVERSAMPLE, its peak brought to 1, with an eighth
    of that as margin on every side to grow into: where a pen is measured and changed."""
    big = _fit(cropped, side * STROKE_OVERSAMPLE)
    return _padded(big / max(float(big.max()), 1e-6), side * STROKE_OVERSAMPLE // 8)


def refit(pen: np.ndarray, side: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """An oversampled crop whose pen was changed, re-trimmed to its ink above TRIM_LEVEL
    and fitted to `side`; with that trim's box (y0, y1, x0, x1) in oversampled pixels."""
    trim = _bbox(pen > TRIM_LEVEL)
    y0, y1, x0, x1 = trim
    return _fit(pen[y0:y1, x0:x1], side), trim


def _paste(fitted: np.ndarray, centre_of_mass: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """Place `fitted` in a 28x28 field, by centre of mass (MNIST) or by its box (Fashion)."""
    h, w = fitted.shape
    if centre_of_mass and fitted.sum() > 0:
        cy, cx = _centre_of_mass(fitted)
        oy, ox = round(14 - cy - 0.5), round(14 - cx - 0.5)
    else:
        oy, ox = (28 - h) // 2, (28 - w) // 2
    # Keep the whole digit inside the field even if its mass is far off-centre.
    oy, ox = min(max(int(oy), 0), 28 - h), min(max(int(ox), 0), 28 - w)
    field = np.zeros((28, 28), np.float32)
    field[oy : oy + h, ox : ox + w] = fitted
    return field, (oy, ox)


def _centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    """scipy.ndimage.center_of_mass of a 2-D float32 map, by the same operations (the
    float32 total, float64 weighted sums) without its general machinery."""
    total = a.sum()
    rows = np.arange(a.shape[0], dtype=np.float64)[:, None]
    cols = np.arange(a.shape[1], dtype=np.float64)[None, :]
    return float((a * rows).sum() / total), float((a * cols).sum() / total)


# ---------------------------------------------------------------- pipeline


def preprocess_stages(
    image: ImageInput,
    recipe: Recipe = "mnist",
    max_pixels: int = MAX_PIXELS,
    piece: bool = False,
) -> Preprocessed:
    """Run the whole pipeline and keep every stage. Raises ImageError / BlankImageError.

    piece: the image is one digit cut from a number (`model.number`): faint ink joined to
    its strokes is kept (`FAINT_LEVEL`) and a thick pen thinned to `PIECE_ERODE_TO`. The
    single-digit path (False) keeps its figures (`benchmarks.equivalence`)."""
    small = decode_small_png(image, max_pixels, WORKING_SIDE)  # a canvas: no copies to make
    luminance: np.ndarray | Callable[[], np.ndarray]
    if small is not None:  # its planes are the working copy, each made when needed
        display = small  # (its Pillow image is made where shown)
        if small_png_is_noise(small):
            raise NoiseImageError(NOISE_MESSAGE)
        work_hw = small.size[::-1]

        def made() -> np.ndarray:
            return unblocked(small.gray, small.levels) if recipe == "mnist" else small.gray

        levels = small.alpha_levels
        if clear_share(levels) >= CANVAS_CLEAR and small.source.every_row_up:
            # A canvas as Chromium exports it (every row Up), mostly transparent: its alpha
            # is its ink, from its bytes (the float plane: where shown); its colour is not
            # needed. Any other transparent PNG may be a picture whose paper was made
            # transparent (`ink_map` tells them apart: its colours cost ~0.1 ms more).
            ink = partial(getattr, small, "alpha")
            return stages_from_ink(ink, "alpha", display, made, work_hw, recipe, piece, levels)
        luminance = made()
        ink, polarity, paper_side = _ink_map(luminance, small.alpha, strokes=recipe == "mnist")
    else:
        img, display, luminance, alpha = working_copy(image, max_pixels)
        work_hw = luminance.shape
        if is_noise(img, luminance, alpha):
            raise NoiseImageError(NOISE_MESSAGE)
        del img  # a large original need not outlive this call
        if recipe == "mnist":
            luminance = unblocked(luminance)
        ink, polarity, paper_side = _ink_map(luminance, alpha, strokes=recipe == "mnist")
    return stages_from_ink(
        ink, polarity, display, luminance, work_hw, recipe, piece, paper_side=paper_side
    )


def stages_from_ink(
    ink: np.ndarray | Callable[[], np.ndarray],
    polarity: Polarity,
    display: Image.Image | SmallPng | Callable[[], Image.Image],
    luminance: np.ndarray | Callable[[], np.ndarray],
    work_hw: tuple[int, int],
    recipe: Recipe = "mnist",
    piece: bool = False,
    levels: np.ndarray | None = None,
    paper_side: int | None = None,
) -> Preprocessed:
    """The pipeline from the ink map on (`preprocess_stages` after its lighting
    correction): the ink kept, its crop, its pen, fitted and centred in 28x28. A number's
    digits start here, each from its stretch of the number's own ink map
    (`model.number.piece_stages`). Raises BlankImageError / TooSmallError. levels: a
    canvas's alpha bytes, where `ink` (how to make its alpha, levels / 255) is read from
    them: the same stages from a quarter of the bytes (the float plane: where shown).
    paper_side: the side of the sheet the ink lies on, where a photo's sheet was found: the
    size of a mark is measured against it instead of the image's side (`check_size`)."""
    if levels is None and callable(ink):
        ink = ink()  # (made now: nothing to read it from)
    mask, box = kept_ink(ink if levels is None else levels)
    if np.count_nonzero(mask) < MIN_INK_PIXELS:
        raise BlankImageError("the image looks blank: no digit or drawing was found on it")
    if piece and recipe == "mnist":
        mask, box = with_faint(ink() if callable(ink) else ink, mask), None
    if box is None:
        box = _bbox(mask)
    y0, y1, x0, x1 = box
    check_size(mask[y0:y1, x0:x1], work_hw, pen=recipe == "mnist", paper_side=paper_side)
    # Soft ink inside the kept components (with a 1-pixel halo for antialiased edges).
    # (3x3 max filter on the box only: the same as a binary dilation, at a fraction of the cost)
    keep = max_filter(mask[y0:y1, x0:x1], SQUARE)
    # (a canvas: its crop of alpha bytes made floats; any other ink was made above)
    soft = ink[y0:y1, x0:x1] if levels is None else _unit(levels[y0:y1, x0:x1])
    cropped = soft * keep

    side = 20 if recipe == "mnist" else 28
    fitted = None  # fitted from the crop unless the pen is changed
    if recipe == "mnist":
        # Stroke width is set on an oversampled crop with room to grow; a changed
        # pen changes the box, which is re-trimmed and mapped back to working pixels.
        big = oversampled(cropped, side)
        pad = side * STROKE_OVERSAMPLE // 8
        f = (big.shape[0] - 2 * pad) / cropped.shape[0]  # oversampled px per working px
        normalised = normalise_stroke(
            big, side / (side * STROKE_OVERSAMPLE), PIECE_ERODE_TO if piece else STROKE_TARGET
        )
        if normalised is not big:
            fitted, (by0, by1, bx0, bx1) = refit(normalised, side)
            box = (
                round(y0 + (by0 - pad) / f),
                round(y0 + (by1 - pad) / f),
                round(x0 + (bx0 - pad) / f),
                round(x0 + (bx1 - pad) / f),
            )
    if fitted is None:
        fitted = _fit(cropped, side)
    if fitted.max() > 0:
        fitted = fitted / fitted.max()
    x, offset = _paste(fitted, centre_of_mass=recipe == "mnist")
    display_hw = work_hw if callable(display) else display.size[::-1]
    geometry = Geometry(display_hw, work_hw, box, fitted.shape, offset)
    return Preprocessed(
        decoded=display,
        luminance=luminance,
        ink_source=ink,
        mask=mask,
        cropped=cropped,
        fitted=fitted,
        x=x,
        geometry=geometry,
        polarity=polarity,
        recipe=recipe,
        oversampled=big if recipe == "mnist" else None,
    )


def preprocess(image: ImageInput, recipe: Recipe = "mnist") -> np.ndarray:
    """Any image -> (28, 28) float32 in [0, 1], white ink on black, ready for the model."""
    return preprocess_stages(image, recipe).x


def naive_resize(image: ImageInput) -> np.ndarray:
    """The baseline many tutorials use: grayscale, squash to 28x28, nothing else."""
    img = normalise_mode(decode(image, MAX_PIXELS)).convert("L")
    img = img.resize((28, 28), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0
