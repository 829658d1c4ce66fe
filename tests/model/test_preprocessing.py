"""The preprocessing pipeline on synthetic drawings: invariants, odd inputs, bad inputs."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from model.errors import BlankImageError, ImageError, ImageTooLargeError, TooSmallError
from model.input.filters import gaussian, max_filter, percentile, smooth_opening, stroke_width
from model.input.lighting import UNEVEN_LIGHT, paper_unevenness
from model.input.preprocessing import (
    INK_LEVEL,
    SPECK_FRACTION,
    STROKE_LEVEL,
    STROKE_TARGET,
    _disk,
    ink_mask,
    naive_resize,
    normalise_stroke,
    preprocess,
    preprocess_stages,
    unblocked,
)


def draw_seven(size=280, offset=(0, 0), scale=1.0, width=20, fg=255, bg=0, mode="L"):
    """A '7' drawn with a pen, like the canvas does."""
    img = Image.new(mode, (size, size), bg)
    ox, oy = offset
    pts = [(100, 60), (180, 60), (130, 220)]
    pts = [(ox + 140 + (x - 140) * scale, oy + 140 + (y - 140) * scale) for x, y in pts]
    ImageDraw.Draw(img).line(pts, fill=fg, width=int(width * scale), joint="curve")
    return img


def assert_mnist_format(x):
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(x.max(1) > 0.05), np.flatnonzero(x.max(0) > 0.05)
    assert rows[-1] - rows[0] < 22 and cols[-1] - cols[0] < 22  # fits the 20x20 box
    cy = (x.sum(1) * np.arange(28)).sum() / x.sum()
    cx = (x.sum(0) * np.arange(28)).sum() / x.sum()
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0  # centre of mass in the middle


def test_canvas_drawing_becomes_mnist_format():
    assert_mnist_format(preprocess(draw_seven()))


@pytest.mark.parametrize("offset", [(-90, -50), (80, 40), (0, 0)])
def test_invariant_to_where_the_digit_is_drawn(offset):
    ref = preprocess(draw_seven())
    np.testing.assert_allclose(preprocess(draw_seven(offset=offset)), ref, atol=1e-5)


def test_invariant_to_polarity_and_transparency():
    ref = preprocess(draw_seven())
    black_on_white = preprocess(draw_seven(fg=0, bg=255))
    rgba = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    rgba.putalpha(draw_seven())
    transparent = preprocess(rgba)
    assert np.abs(black_on_white - ref).mean() < 0.02
    assert np.abs(transparent - ref).mean() < 0.02


def test_nearly_invariant_to_size():
    small, big = preprocess(draw_seven(scale=0.4)), preprocess(draw_seven(scale=1.2))
    assert np.abs(small - big).mean() < 0.06


def test_thin_and_thick_pens_are_brought_to_mnist_stroke_width():
    for width in (2, 60):
        x = preprocess(draw_seven(width=width, scale=1.0))
        w = stroke_width(x > 0.5)
        assert 1.5 < w < 4.5, (width, w)


def test_uneven_lighting_and_noise_of_a_photo():
    rng = np.random.default_rng(0)
    xx = np.mgrid[0:480, 0:480][1]
    paper = 0.55 + 0.4 * xx / 480 + rng.normal(0, 0.03, (480, 480))
    ink = np.asarray(draw_seven(size=480), np.float32) / 255
    photo = np.clip(paper * (1 - ink) + 0.15 * ink, 0, 1)
    buf = io.BytesIO()
    Image.fromarray((photo * 255).astype(np.uint8)).save(buf, "JPEG", quality=60)
    stages = preprocess_stages(buf.getvalue())
    assert stages.polarity == "dark-on-light"
    ref = preprocess(draw_seven(size=480))
    assert np.corrcoef(stages.x.ravel(), ref.ravel())[0, 1] > 0.8


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (280, 280)),
        Image.new("RGB", (280, 280), "white"),
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
        Image.fromarray((np.random.default_rng(1).normal(128, 4, (100, 100))).astype(np.uint8)),
    ],
    ids=["black", "white", "transparent", "faint-noise"],
)
def test_blank_input_is_not_a_digit(image):
    with pytest.raises(BlankImageError, match="blank"):
        preprocess(image)


def _encoded(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im.convert("RGB"),
        lambda im: im.convert("RGBA"),
        lambda im: im.convert("LA"),
        lambda im: im.convert("P"),
        lambda im: im.convert("1"),
        lambda im: im.convert("CMYK"),
        lambda im: Image.fromarray(np.asarray(im).astype(np.uint16) * 257),  # 16-bit
        lambda im: im.convert("F"),
    ],
    ids=["RGB", "RGBA", "LA", "P", "1", "CMYK", "I;16", "F"],
)
def test_odd_image_modes(convert):
    ref = preprocess(draw_seven())
    x = preprocess(convert(draw_seven()))
    assert np.abs(x - ref).mean() < 0.03


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_file_formats_as_bytes(fmt):
    data = _encoded(draw_seven().convert("RGB"), fmt)
    lossy = fmt in ("JPEG", "WEBP")
    assert np.abs(preprocess(data) - preprocess(draw_seven())).mean() < (0.06 if lossy else 0.01)


def test_palette_with_transparency():
    rgba = Image.new("RGBA", (280, 280), (255, 255, 255, 0))
    rgba.paste((20, 20, 200, 255), mask=draw_seven())
    p = rgba.convert("P")  # keeps a transparent palette entry
    assert "transparency" in Image.open(io.BytesIO(_encoded(p, "PNG"))).info
    assert np.abs(preprocess(_encoded(p, "PNG")) - preprocess(draw_seven())).mean() < 0.03


def test_exif_rotation_is_applied():
    upright = draw_seven().convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # the camera stored it sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    data = _encoded(stored, "JPEG", exif=exif, quality=95)
    assert np.abs(preprocess(data) - preprocess(upright)).mean() < 0.03


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 definitely not a picture", "not an image"),
        (_encoded(Image.new("RGB", (64, 64), "white"), "PNG")[:60], "corrupt or truncated"),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
def test_bad_bytes_give_a_clear_error(data, message):
    with pytest.raises(ImageError, match=message):
        preprocess(data)


def test_a_truncated_jpeg_is_said_in_one_plain_sentence():
    """Pillow's own words were nested in the message: "... truncated (image file is
    truncated (24 bytes not processed))" (a user test)."""
    data = _encoded(draw_seven().convert("RGB"), "JPEG")
    with pytest.raises(ImageError) as raised:
        preprocess(data[: len(data) // 3])
    assert str(raised.value) == "the image is corrupt or truncated: part of it cannot be read"


def test_decompression_bomb_is_refused():
    data = _encoded(Image.new("L", (4000, 3000)), "PNG")  # 12 MP of zeros: a few KB
    with pytest.raises(ImageTooLargeError, match="too large"):
        preprocess_stages(data, max_pixels=1_000_000)


def test_huge_photo_is_handled_at_display_size():
    big = draw_seven(size=280).resize((5000, 5000))
    s = preprocess_stages(_encoded(big.convert("RGB"), "JPEG"))
    assert max(s.original.shape[:2]) <= 1024 and s.project_back(s.x).shape == s.original.shape[:2]
    assert np.abs(s.x - preprocess(draw_seven())).mean() < 0.06


#: Modes Pillow can make here, and whether DigitLens reads them (La cannot be converted
#: by Pillow at all: it must get a clear ImageError, never another exception).
EXOTIC_MODES = {"LAB": True, "HSV": True, "YCbCr": True, "PA": True, "I;16B": True, "La": False}


@pytest.mark.parametrize(("mode", "readable"), EXOTIC_MODES.items())
def test_exotic_modes_are_read_or_refused_clearly(mode, readable):
    try:
        if mode == "I;16B":
            big_endian = (np.asarray(draw_seven()).astype(np.uint16) * 257).astype(">u2")
            img = Image.frombytes(mode, (280, 280), big_endian.tobytes())
        else:
            img = draw_seven().convert("RGB").convert(mode)
    except (ValueError, OSError):
        pytest.skip(f"Pillow cannot make {mode} here")
    if readable:
        assert np.abs(preprocess(img) - preprocess(draw_seven())).mean() < 0.02
    else:
        with pytest.raises(ImageError, match="colour mode"):
            preprocess(img)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        preprocess(tmp_path / "nope.png")


@pytest.mark.parametrize(
    "array",
    [
        np.asarray(draw_seven()),
        np.asarray(draw_seven()).astype(np.float32) / 255,
        np.asarray(draw_seven().convert("RGB")),
        np.asarray(draw_seven().convert("RGBA")),
    ],
    ids=["HW-uint8", "HW-float", "HW3", "HW4"],
)
def test_numpy_inputs(array):
    assert np.abs(preprocess(array) - preprocess(draw_seven())).mean() < 0.01


def test_bad_arrays():
    with pytest.raises(ImageError, match="must be"):
        preprocess(np.zeros((4, 4, 7)))
    with pytest.raises(ImageError, match="NaN"):
        preprocess(np.full((10, 10), np.nan))


def test_every_stage_is_kept_and_projection_lands_on_the_strokes():
    s = preprocess_stages(draw_seven(offset=(60, 30)))
    assert s.original.shape == (280, 280, 3) and s.ink.shape == s.mask.shape == (280, 280)
    assert s.fitted.shape[0] == 20 or s.fitted.shape[1] == 20
    back = s.project_back(s.x)  # the input itself, mapped back, should cover the drawing
    strokes = np.asarray(draw_seven(offset=(60, 30))) > 128
    assert back.shape == (280, 280)
    assert back[strokes].mean() > 5 * back[~strokes].mean()


def test_fashion_recipe_fits_the_longest_side_to_28():
    img = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(img).rectangle([20, 30, 180, 70], fill=40)  # a dark wide object on white
    s = preprocess_stages(img, recipe="fashion")
    assert max(s.fitted.shape) == 28
    assert s.x[14].max() > 0.5  # the object is in the field, filled, not just its outline


def test_naive_resize_baseline_keeps_polarity():
    x = naive_resize(draw_seven(fg=0, bg=255))
    assert x.shape == (28, 28) and x.mean() > 0.5  # still black on white


def tight_marker(digit: int, width: int) -> Image.Image:
    """A digit written with a thick marker, cropped to the ink, scanned dark on light."""
    from model.input.samples import drawn_digit

    img = drawn_digit(digit, width=width)
    x0, y0, x1, y1 = img.getbbox()
    return Image.eval(img.crop((x0 - 2, y0 - 2, x1 + 2, y1 + 2)), lambda v: 255 - v)


@pytest.mark.parametrize(("digit", "width"), [(4, 60), (4, 80), (7, 80)])
def test_thick_marker_cropped_tight_keeps_its_strokes(mnist_cnn, digit, width):
    """The lighting correction used to hollow these strokes (read as 6 and 4)."""
    s = preprocess_stages(tight_marker(digit, width))
    y0, y1, x0, x1 = s.geometry.box
    assert s.mask[y0:y1, x0:x1].mean() > 0.5  # the strokes stay solid, not outlines
    assert mnist_cnn.predict_input(s.x).label == digit


@pytest.mark.parametrize(
    ("pen", "axes", "paper"),
    [(30, (140, 150), 255), (30, (140, 150), 0), (50, (135, 140), 255), (50, (140, 150), 255)],
)
def test_a_zero_that_fills_the_frame_is_read_not_refused(mnist_cnn, pen, axes, paper):
    """A 0 cut by every edge of the image crosses more of the border than the paper
    does: the border's level alone took the paper inside it for the ink, a blob refused
    as "too small to read". The side over three times thinner is the ink (`FRAME_INK`,
    `THINNER`)."""
    a = np.full((280, 280), paper, np.uint8)
    cv2.ellipse(a, (140, 140), axes, 0, 0, 360, 255 - paper, pen)
    s = preprocess_stages(Image.fromarray(a))
    assert s.polarity == ("dark-on-light" if paper else "light-on-dark")
    assert mnist_cnn.predict_input(s.x).label == 0


@pytest.mark.parametrize("digit", [0, 4, 7])
def test_noisy_grey_paper_keeps_its_polarity(digit):
    """Paper near mid-grey whose sensor noise puts much of the border on both sides of
    0.5: the frame-filling rule must not take the paper for the ink (a review found a
    first version reading such digits as blank)."""
    from model.input.samples import drawn_digit

    rng = np.random.default_rng(digit)
    a = np.full((320, 320), 0.52)
    glyph = np.asarray(drawn_digit(digit).convert("L").resize((200, 200)), np.float32)
    a[60:260, 60:260] *= 1 - 0.9 * glyph / 255
    a = np.clip(a + rng.normal(0, 0.03, a.shape), 0, 1)
    assert preprocess_stages(Image.fromarray((a * 255).astype(np.uint8))).polarity == (
        "dark-on-light"
    )


@pytest.mark.parametrize("paper", [0.0, 1.0, 0.5])
def test_a_flat_border_is_paper_whatever_the_frame_rule(paper):
    """A border of one level all round (a canvas, a scan) never asks the frame rule:
    Otsu's split of it leaves one side empty (the first cheap version then took the
    median of nothing)."""
    from model.input.lighting import _frame_filling_ink
    from model.input.sheet import border_pixels

    gray = np.full((60, 60), paper, np.float32)
    gray[20:40, 28:32] = 1.0 - paper if paper != 0.5 else 1.0
    border = border_pixels(gray)
    for dark_on_light in (True, False):
        assert _frame_filling_ink(gray, border, dark_on_light) is None


def test_a_tap_and_a_short_tick_are_too_small_to_read():
    from model.errors import TooSmallError

    tap = Image.new("L", (280, 280))
    ImageDraw.Draw(tap).ellipse((120, 120, 140, 140), fill=255)
    tick = Image.new("L", (280, 280))
    ImageDraw.Draw(tick).line([(100, 100), (115, 110)], fill=255, width=12)
    for img in (tap, tick, Image.eval(tap, lambda v: 255 - v)):
        with pytest.raises(TooSmallError, match="too small to read"):
            preprocess(img)


def test_a_clear_digit_in_a_very_wide_picture_is_told_to_be_cropped_not_drawn_larger():
    """A 7 200 pixels tall in a 4000x280 strip is under 5 % of its longest side: refused,
    as before, but "draw or write the whole digit, larger" told its writer nothing useful
    (a user test). A dot in the same strip is still a dot."""
    from model.errors import TooSmallError

    strip = Image.new("L", (4000, 280))
    strip.paste(draw_seven(scale=0.8, width=14), (1800, 0))
    with pytest.raises(TooSmallError, match="crop the picture closer to it") as said:
        preprocess(strip)
    assert "too small to read for the size of the picture (under 5% of its" in str(said.value)
    dot = Image.new("L", (4000, 280))
    ImageDraw.Draw(dot).ellipse((1990, 130, 2010, 150), fill=255)
    with pytest.raises(TooSmallError, match="a dot or a short tick"):
        preprocess(dot)


def test_a_large_filled_area_is_refused_as_one_not_as_a_dot():
    """A zigzag scribbled over the whole pad was refused as "too small to read (a dot or
    a short tick)": as wide as it is long, like a dot, but a dot is small."""
    from model.errors import TooSmallError

    zigzag = Image.new("L", (280, 280))
    points = [(30 + 10 * i, 30 if i % 2 else 250) for i in range(23)]
    ImageDraw.Draw(zigzag).line(points, fill=255, width=24, joint="curve")
    with pytest.raises(TooSmallError, match="filled area") as refused:
        preprocess(zigzag)
    assert "too small" not in str(refused.value)


def test_a_model_of_filled_things_reads_a_filled_area():
    """fashion-cnn reads filled things (a bag, a shirt): the pen's length-in-widths rules
    are the digit recipe's; they refused 0.55 % of Fashion-MNIST's test images."""
    zigzag = Image.new("L", (280, 280))
    points = [(30 + 10 * i, 30 if i % 2 else 250) for i in range(23)]
    ImageDraw.Draw(zigzag).line(points, fill=255, width=24, joint="curve")
    assert preprocess(zigzag, "fashion").max() > 0.5
    bag = Image.new("L", (28, 28))
    ImageDraw.Draw(bag).rectangle((4, 8, 23, 25), fill=200)
    assert preprocess(bag, "fashion").max() > 0.5
    # small marks stay refused (fashion-cnn's detector never trained on them: it answered
    # 11 % of short strokes as clothing without these rules), in the model's words
    streak = Image.new("L", (280, 280))
    ImageDraw.Draw(streak).line([(140, 120), (144, 160)], fill=220, width=10)
    with pytest.raises(TooSmallError, match="single short stroke") as refused:
        preprocess(streak, "fashion")
    assert "a 1" not in str(refused.value)
    speck = Image.new("L", (280, 280))
    ImageDraw.Draw(speck).ellipse((140, 140, 150, 150), fill=255)
    dot = Image.new("L", (280, 280))
    ImageDraw.Draw(dot).ellipse((120, 120, 146, 146), fill=255)  # 9 % of the side
    for small in (speck, dot):
        with pytest.raises(TooSmallError, match="show the whole thing") as refused:
            preprocess(small, "fashion")
        assert "digit" not in str(refused.value)


@pytest.mark.parametrize("angle", [90, 75, 45, 0])
def test_a_single_short_straight_stroke_is_too_small_to_read(angle):
    """Issue #9: a short stroke is never a digit. 40 pixels and a 10-pixel pen on the
    280-pixel canvas is under SHORT_STROKE_FRACTION of it, however it is tilted."""
    from model.errors import TooSmallError

    img = Image.new("L", (280, 280))
    dx, dy = 20 * np.cos(np.radians(angle)), 20 * np.sin(np.radians(angle))
    ImageDraw.Draw(img).line([(140 - dx, 140 - dy), (140 + dx, 140 + dy)], fill=255, width=10)
    with pytest.raises(TooSmallError, match="single short stroke"):
        preprocess(img)


def test_a_short_mark_that_bends_or_loops_is_not_a_short_stroke():
    """Only one straight piece counts: a small 7 or 0 of the same size is read."""
    seven, zero = Image.new("L", (280, 280)), Image.new("L", (280, 280))
    ImageDraw.Draw(seven).line([(125, 125), (150, 125), (135, 155)], fill=255, width=7)
    ImageDraw.Draw(zero).ellipse((128, 125, 148, 157), outline=255, width=6)
    for img in (seven, zero):
        assert_mnist_format(preprocess(img))


def test_texture_tells_noise_from_drawings_and_photos():
    from model.input.refusals import NOISE_TEXTURE, texture

    rng = np.random.default_rng(0)
    drawing = np.asarray(draw_seven(size=280), np.float32) / 255
    paper = 0.7 + rng.normal(0, 0.03, (280, 280))  # sensor noise on a photo of paper
    assert texture(drawing) < 0.01
    assert texture(paper) < NOISE_TEXTURE / 2
    assert texture(rng.random((60, 300))) > 2 * NOISE_TEXTURE


def test_the_fast_noise_check_agrees_with_the_texture_median():
    """looks_like_noise (a count) decides exactly as texture > NOISE_TEXTURE (a median),
    across amplitudes on both sides of the threshold."""
    from model.input.refusals import NOISE_TEXTURE, looks_like_noise, texture

    rng = np.random.default_rng(3)
    for amplitude in np.linspace(0.05, 0.6, 23):
        img = (rng.random((90, 120)) * amplitude).astype(np.float32)
        assert looks_like_noise(img) == (texture(img) > NOISE_TEXTURE), amplitude
    assert not looks_like_noise(np.zeros((1, 5), np.float32))


def test_a_small_but_whole_digit_is_read():
    """A 1 drawn ~70 pixels tall on the canvas is a digit, not a tick."""
    small_one = Image.new("L", (280, 280))
    ImageDraw.Draw(small_one).line([(140, 100), (140, 170)], fill=255, width=14)
    assert_mnist_format(preprocess(small_one))


# ---------------------------------------------------------------- OpenCV filters = scipy's
# The hot path runs its filters on OpenCV; these pin them to scipy.ndimage's definitions
# (kernels, anchors, edges), which the pipeline was designed and measured with.


def _blobs(seed: int, shape=(61, 47)) -> np.ndarray:
    """A random (h, w) float32 map with blobs, specks and values touching every edge."""
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), 1.5).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.5, 0.7, 1.12])
def test_gaussian_is_scipys(sigma):
    a = _blobs(0)
    want = ndimage.gaussian_filter(a, sigma=sigma, truncate=2.5)
    np.testing.assert_allclose(gaussian(a, sigma, 2.5), want, atol=1e-6)


@pytest.mark.parametrize("size", [3, 4, 21, 42])
def test_smooth_opening_is_scipys(size):
    a = _blobs(1, (64, 40))
    want = ndimage.uniform_filter(ndimage.grey_opening(a, size=size), size=size)
    np.testing.assert_allclose(smooth_opening(a, size), want, atol=1e-6)


def test_percentile_max_filter_and_masks_are_scipys():
    a = _blobs(2)
    for q in (0.0, 50.0, 99.9, 100.0):
        assert percentile(a[::2, ::2], q) == pytest.approx(np.percentile(a[::2, ::2], q), abs=1e-7)
    mask = a > np.median(a)
    for size in (3, 8):
        want = ndimage.maximum_filter(mask.view(np.uint8), size=size).astype(bool)
        np.testing.assert_array_equal(max_filter(mask, np.ones((size, size), np.uint8)), want)
    boundary = mask & ~ndimage.binary_erosion(mask)
    assert stroke_width(mask) == pytest.approx(2 * mask.sum() / boundary.sum())


def test_ink_mask_drops_specks_as_scipys_labelling_does():
    ink = (_blobs(3, (90, 70)) > 0.52).astype(np.float32)
    ink[2, 2] = ink[80, 5] = 1.0  # lone specks far smaller than the rest
    mask = ink > INK_LEVEL
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    want = np.isin(labels, np.flatnonzero(sizes >= SPECK_FRACTION * sizes.max()) + 1)
    assert n > 3 and not want[2, 2]
    np.testing.assert_array_equal(ink_mask(ink), want)


@pytest.mark.parametrize("per_px", [0.1, 1.2])  # a 1-pixel pen grows, a marker shrinks
def test_normalise_stroke_is_scipys_grey_morphology(per_px):
    crop = np.pad((_blobs(4, (50, 50)) > 0.5).astype(np.float32), 10)
    got = normalise_stroke(crop, per_px)
    mask = crop > STROKE_LEVEL
    width = stroke_width(mask) * per_px
    radius = round(abs(STROKE_TARGET - width) / per_px / 2)
    op = ndimage.grey_dilation if width < STROKE_TARGET else ndimage.grey_erosion
    assert got is not crop
    np.testing.assert_array_equal(got, op(crop, footprint=_disk(radius)))


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
def test_noise_larger_than_the_working_copy_is_refused_as_noise(colour):
    """Shrinking a 2000-pixel square to the 448-pixel working copy averages uniform noise
    down to a texture of 0.04-0.06 (under NOISE_TEXTURE): it is measured at its own
    resolution too."""
    from model.errors import NoiseImageError

    rng = np.random.default_rng(4)
    shape = (2000, 2000, 3) if colour else (2000, 2000)
    noise = Image.fromarray((rng.random(shape) * 255).astype(np.uint8))
    with pytest.raises(NoiseImageError, match="random noise"):
        preprocess_stages(noise)


def _noise_variants():
    """Noise a fashion-cnn exemption once let through (6ee3356, reverted): small squares,
    framed, with a dark strip, with a transparent border."""
    rng = np.random.default_rng(6)
    small = [(rng.random((s, s)) * 255).astype(np.uint8) for s in (14, 16, 20, 27)]
    framed = []
    for level in (0, 255):
        a = np.full((280, 280), level, np.uint8)
        a[14:-14, 14:-14] = rng.random((252, 252)) * 255
        framed.append(a)
    strip = (rng.random((280, 280)) * 255).astype(np.uint8)
    strip[:, :112] = 0
    rgba = (rng.random((200, 200, 4)) * 255).astype(np.uint8)
    rgba[..., 3] = 255
    rgba[:20, :, 3] = rgba[-20:, :, 3] = 0
    return [*small, *framed, strip, rgba]


@pytest.mark.parametrize("recipe", ["mnist", "fashion"])
def test_noise_is_refused_whatever_its_size_frame_or_recipe(recipe):
    from model.errors import NoiseImageError

    for i, a in enumerate(_noise_variants()):
        with pytest.raises(NoiseImageError, match="random noise"):
            preprocess_stages(Image.fromarray(a), recipe)
            pytest.fail(f"variant {i} ({a.shape}) was read")


def test_a_large_photo_of_a_digit_is_not_taken_for_noise():
    """A 2400x1800 photo of a 7 with heavy per-pixel sensor noise (sigma 0.05: a texture of
    0.05 in the noise check's window, 0.01 on the working copy) and uneven light still reads."""
    rng = np.random.default_rng(5)
    h, w = 1800, 2400
    xx = np.mgrid[0:h, 0:w][1]
    paper = 0.55 + 0.4 * xx / w + rng.normal(0, 0.05, (h, w))
    # The 7 in the top-left corner: the centred window sees only noisy paper.
    seven = draw_seven().resize((900, 900), Image.Resampling.BICUBIC)
    ink = np.zeros((h, w), np.float32)
    ink[:900, :900] = np.asarray(seven, np.float32) / 255
    photo = Image.fromarray((np.clip(paper * (1 - ink) + 0.15 * ink, 0, 1) * 255).astype(np.uint8))
    stages = preprocess_stages(_encoded(photo.convert("RGB"), "JPEG", quality=90))
    assert stages.polarity == "dark-on-light"
    ref = preprocess(draw_seven())
    assert np.corrcoef(stages.x.ravel(), ref.ravel())[0, 1] > 0.8


def blocky_scan(side: int = 280) -> np.ndarray:
    """A frame-filling 0 scanned at 8x8 and scaled up by nearest neighbour, dark on light."""
    cells = np.zeros((8, 8), np.float32)
    cells[1:7, 1:7] = 1.0
    cells[2:6, 3:5] = 0.0  # the 0's hole: two cells wide, four tall
    cells[0, 2:6] = cells[7, 2:6] = 1.0  # the strokes touch the frame
    big = np.kron(cells, np.ones((side // 8, side // 8), np.float32))
    return 1.0 - 0.9 * big  # (side, side) grey, ink dark


def test_paper_unevenness_sees_the_paper_not_the_strokes():
    """Strokes that fill the frame lift the opening's background; the paper stays flat."""
    x = 1.0 - blocky_scan(64)  # ink bright, as ink_map sees it
    assert np.ptp(smooth_opening(x, 64 // 3)) > UNEVEN_LIGHT  # what alone fired the top-hat
    assert paper_unevenness(x, 0.0) < UNEVEN_LIGHT
    margin = np.zeros((96, 96), np.float32)  # the same scan with paper around it ...
    margin[16:80, 16:80] = x
    lit = margin + 0.3 * np.mgrid[0:96, 0:96][1] / 96  # ... under a light gradient
    assert paper_unevenness(lit, 0.0) > UNEVEN_LIGHT


@pytest.mark.parametrize("resampling", ["nearest", "bicubic"])
def test_a_scan_scaled_up_keeps_its_frame_filling_strokes(resampling):
    """Real 8x8 scans (sklearn's UCI digits) scaled up by 35: the lighting correction used
    to cut their strokes (ink 0-0.2 left in the middle of full cells; a 2 read as 7)."""
    from sklearn.datasets import load_digits

    for counts in load_digits().images[:40]:  # (8, 8) ink counts, 0..16
        cells = np.round(counts / 16 * 255).astype(np.uint8)
        method = getattr(Image.Resampling, resampling.upper())
        s = preprocess_stages(Image.fromarray(255 - cells).resize((280, 280), method))
        centres = s.ink[17::35, 17::35]  # the middle of each cell
        assert centres[counts >= 12].min() > 0.5  # every nearly full cell is still ink


@pytest.mark.slow
@pytest.mark.parametrize("resampling", ["bicubic", "bilinear", "nearest"])
def test_real_low_resolution_scans_are_read(mnist_cnn, resampling):
    """sklearn's 8x8 UCI digits (real handwriting, bundled with scikit-learn) scaled up to
    280x280 with no margin: the issue's goal is >= 95 % (bicubic 88.7 %, bilinear 86.5 %,
    nearest 67.8 % before the fixes; bilinear 94.1 % before its cells were read)."""
    from benchmarks.scans import upscaled_scans

    items, labels = upscaled_scans(resampling)
    x = np.stack([preprocess(item) for item in items])
    assert (mnist_cnn.probabilities(x).argmax(1) == labels).mean() >= 0.95


@pytest.mark.parametrize("cells", [8, 11])  # 280 / 11: cells of 25 and 26 pixels
def test_a_picture_scaled_up_blocky_has_its_cells_resampled(cells):
    """sklearn's 8x8 scans scaled up by nearest neighbour read 84.7 % as blocks, 95.3 %
    with their cells resampled (bicubic: 95.2 %)."""
    counts = np.random.default_rng(cells).random((cells, cells)).astype(np.float32)
    near = Image.fromarray(counts, "F").resize((280, 280), Image.Resampling.NEAREST)
    smooth = Image.fromarray(counts, "F").resize((280, 280), Image.Resampling.BICUBIC)
    out = unblocked(np.asarray(near, np.float32))
    flat = np.abs(np.diff(out, axis=1)) < 1e-4  # steps of a blocky row are all flat but one
    assert flat.mean() < 0.5
    assert np.abs(out - np.clip(np.asarray(smooth), 0, 1)).mean() < 0.05


def _scaled_up(cells: np.ndarray, side: int, how: str) -> np.ndarray:
    """(cells, cells) uint8 levels scaled up to (side, side) uint8 by Pillow or OpenCV."""
    if how == "opencv":
        return cv2.resize(cells, (side, side), interpolation=cv2.INTER_LINEAR)
    resampling = Image.Resampling.BICUBIC if how == "bicubic" else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(cells).resize((side, side), resampling))


@pytest.mark.parametrize(
    "cells, side, how",
    # 8 to 280: each centre on a pixel; 11 and 28 to 280, 14 to 200: between two
    [(8, 280, "pillow"), (11, 280, "opencv"), (28, 280, "pillow"), (14, 200, "opencv")],
)
def test_a_picture_scaled_up_bilinear_is_read_from_its_cells(cells, side, how):
    """A picture scaled up by linear interpolation reaches the model as its cells scaled
    up bicubic (sklearn's 8x8 scans: 94.1 % read right as they were, 95.3 % so), whether
    its levels are known or only their floats (a JPEG's working copy, a 16-bit PNG's)."""
    counts = np.random.default_rng(cells).integers(0, 256, (cells, cells), dtype=np.uint8)
    levels = _scaled_up(counts, side, how)
    gray = levels / np.float32(255)
    want = Image.fromarray(counts.astype(np.float32) / 255, "F").resize(
        (side, side), Image.Resampling.BICUBIC
    )
    want = np.clip(np.asarray(want), 0, 1)
    assert np.abs(gray - want).mean() > 0.03  # (the ramps differ from the curves)
    for out in (unblocked(gray, levels), unblocked(gray)):
        assert out is not gray
        assert np.abs(out - want).mean() < 0.003  # (levels rounded twice: ~0.4 of 255)


def test_drawings_photos_and_a_lone_bar_are_not_taken_for_blocks():
    seven = np.asarray(draw_seven(), np.float32) / 255
    noisy = np.clip(seven + np.random.default_rng(0).normal(0, 0.05, seven.shape), 0, 1)
    bar = np.zeros((280, 280), np.float32)
    bar[110:170, 120:160] = 1.0  # a dash drawn as one rectangle: two edges, no grid
    ramp = np.tile(np.linspace(0.2, 0.9, 280, dtype=np.float32), (280, 1))  # lit from a side
    cells = np.random.default_rng(3).integers(0, 256, (8, 8), dtype=np.uint8)
    bicubic = _scaled_up(cells, 280, "bicubic") / np.float32(255)  # (curves: no bends)
    buf = io.BytesIO()
    Image.fromarray(_scaled_up(cells, 280, "pillow")).save(buf, "JPEG", quality=90)
    jpeg = np.asarray(Image.open(buf)) / np.float32(255)  # (its ringing bends everywhere)
    for gray in (seven, noisy.astype(np.float32), bar, ramp, bicubic, jpeg):
        assert unblocked(gray) is gray


@pytest.mark.parametrize("paper", [60, 80, 100, 120, (70, 100), (110, 140)])
def test_a_dim_photo_of_grey_paper_is_dark_ink_on_paper(mnist_cnn, paper):
    """A black 7 on grey paper (a dim photo: the paper at 60-120 of 255, sensor noise; or
    lit from one side, 70 to 100 across it) is read as a 7: the paper's own level under
    half made it "a dark ground", and the 7 "blank", unsure or not a digit (a user
    test). The side the image strays to is the ink."""
    from tests.helpers import drawn_digit

    ink = np.asarray(drawn_digit(7, size=600), np.float32) / 255
    noise = np.random.default_rng(0).normal(0, 2, ink.shape)
    lo, hi = paper if isinstance(paper, tuple) else (paper, paper)
    level = np.linspace(lo, hi, ink.shape[1])[None, :]  # (the light across the sheet)
    photo = (level * (1 - ink) + 15 * ink + noise).clip(0, 255).astype(np.uint8)
    stages = mnist_cnn.preprocess_stages(Image.fromarray(photo))
    assert stages.polarity == "dark-on-light"
    p = mnist_cnn.predict_input(stages.x)
    assert (p.label, p.verdict) == (7, "digit"), p


def test_a_small_digit_on_a_white_card_on_a_grey_desk_is_dark_on_light(mnist_cnn):
    """A phone photo's ink is often under 1 % of it: the darkest pixels are paper too. A
    black 7 on a white card on a light-grey desk (0.17 % of the photo) was read as "0, not
    a digit" when the ink side came from the image's tails (a review); a border over half
    is paper."""
    from tests.helpers import drawn_digit

    rng = np.random.default_rng(0)
    photo = 0.65 + rng.normal(0, 0.015, (960, 1280))
    photo[250:710, 350:950] = 0.95 + rng.normal(0, 0.015, (460, 600))
    ink = np.asarray(drawn_digit(7, size=200, width=14), np.float32) / 255
    photo[380:580, 550:750] = photo[380:580, 550:750] * (1 - ink) + 0.12 * ink
    image = Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8))
    stages = mnist_cnn.preprocess_stages(image)
    assert stages.polarity == "dark-on-light"
    p = mnist_cnn.predict_input(stages.x)
    assert (p.label, p.verdict) == (7, "digit"), p
