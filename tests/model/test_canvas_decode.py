"""A canvas PNG read without a Pillow image in between (`decode.decode_small_png`) gives
the luminance, alpha and image the old path gave, bit for bit: Pillow's decoding,
`normalise_mode` and `to_float`, on canvas PNGs (RGBA with a white or a coloured pen,
grey, grey+alpha, RGB; every PNG row filter), what it declines (palette, 16-bit, Paeth,
larger than the working copy, broken files) and every preprocessing stage of realistic
canvases, photos and bad inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.errors import ImageError
from model.input import decode as decode_module
from model.input import preprocessing as preprocessing_module
from model.input import refusals
from model.input.decode import (
    MAX_PIXELS,
    WORKING_SIDE,
    decode,
    decode_small_png,
    normalise_mode,
    to_float,
)
from model.input.png import decode_planes, encode_up
from model.input.preprocessing import preprocess_stages
from tests.helpers import png
from tests.model.test_fast_path import canvas_pixels, encode_png

FILTERS = {"up": 2, "sub": 1, "none": 0, "mixed": None}


def old_read(data: bytes) -> tuple[Image.Image, np.ndarray, np.ndarray | None]:
    """The old path: Pillow decodes (the fast decoder declining), then to_float."""
    original = decode_module.decode_png
    decode_module.decode_png = lambda data, cap: None
    try:
        img = normalise_mode(decode(data, MAX_PIXELS))
    finally:
        decode_module.decode_png = original
    return (img, *to_float(img))


def assert_same_read(data: bytes) -> None:
    new = decode_small_png(data, MAX_PIXELS, WORKING_SIDE)
    assert new is not None
    img, gray, alpha, levels = new.image, new.gray, new.alpha, new.levels
    assert levels.dtype == np.uint8 and np.array_equal(levels / np.float32(255), gray)
    ref_img, ref_gray, ref_alpha = old_read(data)
    assert img.mode == ref_img.mode and img.size == ref_img.size
    assert np.array_equal(np.asarray(img), np.asarray(ref_img))
    assert gray.dtype == ref_gray.dtype == np.float32
    assert np.array_equal(gray.view(np.uint32), ref_gray.view(np.uint32))  # bit for bit
    assert (alpha is None) == (ref_alpha is None)
    if alpha is not None:
        assert alpha.dtype == np.float32
        assert np.array_equal(alpha.view(np.uint32), ref_alpha.view(np.uint32))


def kinds_for(filters: str, h: int, rng: np.random.Generator) -> list[int]:
    kind = FILTERS[filters]
    return list(rng.integers(0, 3, h)) if kind is None else [kind] * h


@pytest.mark.parametrize("filters", list(FILTERS))
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("pen", ["grey", "colour"])
def test_every_channel_count_and_filter_reads_as_pillow_and_to_float(filters, channels, pen):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (37, 29, channels), dtype=np.uint8)
    pixels[:16, :16, 0] = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every level
    if pen == "grey" and channels >= 3:
        pixels[..., 1] = pixels[..., 2] = pixels[..., 0]
    pixels[5:9] = 0  # runs of equal rows, as on a canvas
    assert_same_read(encode_png(pixels, kinds_for(filters, 37, rng)))


def test_canvas_pngs_read_as_before():
    for seed in range(4):
        pixels = canvas_pixels(seed)
        coloured = pixels.copy()
        coloured[..., 1:3] //= 3  # a red pen
        one_off = pixels.copy()
        one_off[140, 140, 2] ^= 1  # blue differs from red in one pixel only
        for p in (pixels, coloured, one_off):
            assert_same_read(encode_up(p))  # Chromium: Up on every row
            assert_same_read(encode_png(p, [0] + [2] * 279))  # Up from the second row
        for channels in (1, 2, 3):  # grey, grey+alpha, RGB canvases
            assert_same_read(encode_up(pixels[..., [0, 3, 0, 1, 2][:channels]].copy()))


def test_a_white_pen_is_read_off_one_plane():
    mode, planes = decode_planes(encode_up(canvas_pixels(0)), MAX_PIXELS, WORKING_SIDE)
    assert mode == "RGBA" and planes[0] is planes[1] is planes[2]


@pytest.mark.parametrize(
    "case", ["palette", "16-bit", "paeth", "too large", "transparency key", "broken", "jpeg"]
)
def test_what_it_declines_is_left_to_the_old_path(case):
    pixels = canvas_pixels(1)[:60, :60]
    if case == "palette":
        data = png(Image.fromarray(pixels).convert("P"))
    elif case == "16-bit":
        data = png(Image.fromarray(pixels[..., 3].astype(np.uint16) * 200))
    elif case == "paeth":
        data = encode_png(pixels, [4] * 60)
    elif case == "too large":
        data = encode_up(np.zeros((WORKING_SIDE + 1, 20, 4), np.uint8))
    elif case == "transparency key":
        buf = io.BytesIO()
        Image.fromarray(pixels[..., 3]).save(buf, "PNG", transparency=0)
        data = buf.getvalue()
    elif case == "broken":
        data = b"\x89PNG garbage"
    else:
        data = png(Image.fromarray(pixels[..., :3]), "JPEG")
    assert decode_small_png(data, MAX_PIXELS, WORKING_SIDE) is None


def _old_pipeline(monkeypatch) -> None:
    monkeypatch.setattr(preprocessing_module, "decode_small_png", lambda *args: None)
    monkeypatch.setattr(decode_module, "declined_small_png", lambda *args: False)
    monkeypatch.setattr(refusals, "too_dark_for_noise", lambda gray: False)


def _outcome(data: bytes):
    try:
        return preprocess_stages(data)
    except ImageError as exc:
        return type(exc), str(exc)


def _same_outcome(a, b) -> None:
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert a.polarity == b.polarity and a.geometry == b.geometry
    for field in ("gray", "ink", "mask", "cropped", "fitted", "x"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.display.mode == b.display.mode
    assert np.array_equal(np.asarray(a.display), np.asarray(b.display))
    assert np.array_equal(a.original, b.original)


def _inputs(real_data_dir) -> list[bytes]:
    from model.datasets import load_split, locate
    from training.renders import make_set

    test = load_split(locate("mnist", str(real_data_dir)), "test")
    canvases, _ = make_set("canvas", test.images, test.labels, 40, 0)
    photos, _ = make_set("photo", test.images, test.labels, 10, 1)
    sent: list[bytes] = []
    for img in canvases:
        rgba, grey = np.asarray(img.convert("RGBA")), np.asarray(img.convert("L"))
        inked = np.zeros((*grey.shape, 4), np.uint8)  # as the browser's pad: alpha is ink
        inked[..., :3] = np.where(grey[..., None] > 0, 255, 0)
        inked[..., 3] = grey
        sent += [encode_up(inked), encode_up(rgba), encode_up(grey[..., None])]
        sent += [png(img), png(Image.fromarray(inked))]  # Pillow's encoder: Paeth rows
        sent += [png(img.convert("P")), png(Image.fromarray(grey.astype(np.uint16) * 257))]
    sent += [p if isinstance(p, bytes) else png(p) for p in photos]
    blank = np.zeros((280, 280, 4), np.uint8)
    dot = blank.copy()
    dot[140:146, 140:146] = 255
    noise = np.random.default_rng(0).integers(0, 256, (280, 280, 4), dtype=np.uint8)
    noise[..., 3] = 255
    sent += [encode_up(blank), encode_up(dot), encode_up(noise), b"\x89PNG garbage"]
    sent += [encode_up(np.zeros((1, 1, 4), np.uint8)), encode_up(canvas_pixels(2)[:, :3])]
    return sent


def test_every_stage_of_realistic_and_bad_inputs_is_as_before(real_data_dir, monkeypatch):
    sent = _inputs(real_data_dir)
    assert sum(decode_small_png(d, MAX_PIXELS, WORKING_SIDE) is not None for d in sent) >= 80
    new = [_outcome(d) for d in sent]
    _old_pipeline(monkeypatch)
    for data, outcome in zip(sent, new, strict=True):
        _same_outcome(outcome, _outcome(data))


def test_the_noise_rule_is_skipped_only_where_it_must_answer_no():
    """too_dark_for_noise(gray) never says yes where looks_like_noise says yes (alone or
    over black), on sparse random pixels of every density and on lattices of isolated
    pixels (each the end of four counted differences, the most one pixel can make), some
    just over the one-in-eight line."""
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(600):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        density = float(rng.choice([0.02, 0.08, 0.12, 0.125, 0.13, 0.2, 0.3, 0.5]))
        g = (rng.random((h, w)) < density) * rng.random((h, w))
        alpha = rng.random((h, w)) if rng.random() < 0.5 else None
        cases.append((g.astype(np.float32), alpha))
    for step in (2, 3):  # isolated pixels on a lattice: 1/4 and 1/9 of them lit
        for offset in ((0, 0), (1, 1), (0, 1)):
            g = np.zeros((57, 61), np.float32)
            g[offset[0] :: step, offset[1] :: step] = 1.0
            cases.append((g, None))
    for share in (0.52, 0.55, 0.6, 0.7, 0.8):  # some of the even-even lattice: 13-20 % lit
        g = np.zeros((80, 90), np.float32)
        g[::2, ::2] = rng.random((40, 45)) < share
        cases.append((g, None))
    noisy = 0
    for g, alpha in cases:
        opaque = g if alpha is None else (g * alpha).astype(np.float32)
        says = refusals.looks_like_noise(opaque)
        noisy += says
        if refusals.too_dark_for_noise(g):
            assert not says
    assert noisy >= 10  # the rule did answer yes on some of them
    a = canvas_pixels(0)
    assert refusals.too_dark_for_noise(a[..., 0].astype(np.float32) / 255)  # the canvas skips


def test_a_small_pngs_noise_rule_reads_its_alpha_and_answers_as_before():
    """Where a PNG has alpha, the count that lets the noise rule answer no at once runs on
    the alpha (a canvas's colour is then never read): it holds wherever it holds on the
    luminance over black, and `small_png_is_noise` answers what `is_noise` answers, on
    sparse and dense alpha over smooth and noisy colour, and on the canvas."""
    rng = np.random.default_rng(1)
    cases = []
    for i in range(300):
        h, w = (int(v) for v in rng.integers(2, 60, 2))
        density = float(rng.choice([0.02, 0.08, 0.12, 0.125, 0.13, 0.3, 1.0]))
        pixels = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        if i % 3 == 0:
            pixels[..., :3] = 255  # a white pen
        low = 96 if i % 5 == 0 else 1  # (half-transparent noise: every non-zero alpha counts)
        high = 128 if i % 5 == 0 else 256
        pixels[..., 3] = (rng.random((h, w)) < density) * rng.integers(low, high, (h, w))
        cases.append(pixels)
    cases.append(canvas_pixels(0))
    noisy = dark = 0
    for pixels in cases:
        small = decode_small_png(encode_up(pixels), MAX_PIXELS, WORKING_SIDE)
        says = refusals.is_noise(small.image, small.gray, small.alpha)
        assert refusals.small_png_is_noise(small) == says
        if refusals.too_dark_for_noise(small.alpha_levels):
            dark += 1
            assert not refusals.looks_like_noise(small.gray * small.alpha)
        noisy += says
    assert noisy >= 10 and dark >= 50  # both answers, and the shortcut, were exercised


def test_a_canvas_with_alpha_ink_reads_its_alpha_plane_alone():
    """The browser canvas (white pen, alpha ink): its answer unfilters the alpha plane
    only; the luminance is made when asked for, and is what it was."""
    data = encode_up(canvas_pixels(0))
    pre = preprocess_stages(data)
    assert pre.polarity == "alpha" and pre.decoded.source.made == (3,)
    gray = pre.gray  # (on first use)
    assert pre.decoded.source.made == (0, 3)
    ref = old_read(data)[1]
    from model.input.blocks import unblocked

    assert np.array_equal(gray, unblocked(ref))


def test_a_canvas_is_read_from_its_alpha_bytes_as_from_their_floats():
    """Where a canvas's alpha is its ink, the answer is read from the alpha's bytes (the
    float plane is made only where shown): a byte is ink, and clear, exactly where its
    level / 255 is; a canvas holding every level gives the stages the floats give."""
    from model.input.decode import _unit
    from model.input.preprocessing import (
        HALF_BYTE,
        INK_BYTE,
        INK_LEVEL,
        ink_is_alpha,
        kept_ink,
        stages_from_ink,
    )

    every = np.arange(256, dtype=np.uint8)[None]
    assert np.array_equal(every > INK_BYTE, _unit(every) > INK_LEVEL)
    assert np.array_equal(every <= HALF_BYTE, _unit(every) < 0.5)
    rgba = canvas_pixels(3).copy()
    rgba[..., 3] = np.where(
        rgba[..., 3] > 0, np.arange(rgba[..., 3].size).reshape(rgba.shape[:2]) % 256, 0
    )
    data = encode_up(rgba)
    pre = preprocess_stages(data)
    assert callable(pre.ink_source)  # (not made for the answer)
    alpha = _unit(np.ascontiguousarray(rgba[..., 3]))
    assert ink_is_alpha(alpha) and np.array_equal(pre.ink, alpha)
    assert np.array_equal(kept_ink(rgba[..., 3].copy())[0], kept_ink(alpha)[0])
    floats = stages_from_ink(alpha, "alpha", pre.decoded, pre.gray, alpha.shape)
    for stage in ("mask", "cropped", "fitted", "x"):
        assert np.array_equal(getattr(pre, stage), getattr(floats, stage)), stage
    assert pre.geometry == floats.geometry


def test_the_kept_inks_box_is_the_masks():
    """kept_ink's box, where it gives one, is the box of its mask (specks taken off far
    from the strokes shrink it: then it gives none), and its mask is ink_mask's."""
    from model.input.preprocessing import _bbox, ink_mask, kept_ink

    rng = np.random.default_rng(0)
    given = 0
    for i in range(300):
        ink = np.zeros((60, 70), np.float32)
        y, x = (int(v) for v in rng.integers(5, 40, 2))
        ink[y : y + 15, x : x + 4] = rng.random() * 0.8 + 0.2  # a stroke
        for _ in range(int(rng.integers(0, 3))):  # specks anywhere, some at the edges
            sy, sx = (int(v) for v in rng.integers(0, 59, 2))
            ink[sy, sx] = 1.0
        if i % 50 == 0:
            ink[:] = 0.1  # nothing strong
        mask, box = kept_ink(ink)
        assert np.array_equal(mask, ink_mask(ink))
        if box is not None:
            given += 1
            assert box == _bbox(mask)
    assert given > 50


def test_steps_and_dark_pixels_found_on_the_levels_are_those_of_the_floats():
    """_steps on uint8 levels against _steps on levels / 255 (every pair of levels side by
    side, and blocky pictures scaled up by nearest neighbour: unblocked gives the same
    picture), and too_dark_for_noise's count on either."""
    from model.input.blocks import _steps, unblocked

    a, b = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    row = np.stack([a.ravel(), b.ravel()], axis=1).reshape(1, -1)  # a0 b0 a1 b1 ...
    for levels, axis in ((row, 1), (row.T.copy(), 0)):  # every pair side by side
        steps = _steps(levels, axis)
        assert np.array_equal(steps, _steps(levels / np.float32(255), axis))
        assert np.array_equal(steps[::2], np.abs(a.astype(int) - b).ravel() > 25)
    rng = np.random.default_rng(0)
    for cell in (1, 3, 5, 8):
        small = rng.integers(0, 256, (12, 10), dtype=np.uint8)
        levels = np.repeat(np.repeat(small, cell, axis=0), cell, axis=1)
        gray = levels / np.float32(255)
        assert np.array_equal(unblocked(gray, levels), unblocked(gray))
        assert (unblocked(gray, levels) is gray) == (unblocked(gray) is gray)
        sparse = levels * (rng.random(levels.shape) < 0.1)
        assert refusals.too_dark_for_noise(sparse) == refusals.too_dark_for_noise(
            sparse / np.float32(255)
        )


def test_a_short_stream_inflated_in_one_call_reads_as_in_steps(monkeypatch):
    """png._inflate's one call (short streams: libdeflate's, or ISA-L's where it is not
    installed) and its steps (the rest) give the same bytes or the same None: exact,
    trailing bytes, cut short, longer or shorter than the image, corrupt, a bad checksum."""
    import zlib

    from model.input import png as png_module

    size = 280 * 1121
    good = zlib.compress(bytes(range(256)) * (size // 256) + bytes(size % 256), 6)
    bad_sum = good[:-1] + bytes([good[-1] ^ 1])
    streams = [good, good + b"trailing", good[:-10], zlib.compress(bytes(size + 1))]
    streams += [zlib.compress(bytes(size - 1)), good[:20] + bytes(30) + good[50:], bad_sum, b""]
    assert all(len(s) * png_module.DEFLATE_MAX_RATIO <= png_module.ONE_SHOT_BYTES for s in streams)
    one_call = [png_module._inflate(s, size) for s in streams]
    assert png_module._inflate_whole is not None  # libdeflate (requirements.txt) was used
    monkeypatch.setattr(png_module, "_inflate_whole", None)  # ISA-L's one call
    assert one_call == [png_module._inflate(s, size) for s in streams]
    monkeypatch.setattr(png_module, "ONE_SHOT_BYTES", 0)
    assert one_call == [png_module._inflate(s, size) for s in streams]
    assert one_call[0] is not None and one_call[1] is not None
    assert one_call[2:] == [None] * 6


def test_levels_become_floats_as_numpy_divides_them():
    """decode._unit (OpenCV's division) against to_float's float32 division, on every
    byte and on planes of many widths (vector loops and their tails)."""
    from model.input.decode import _unit

    rng = np.random.default_rng(0)
    planes = [np.arange(256, dtype=np.uint8).reshape(16, 16)]
    planes += [
        rng.integers(0, 256, (int(h), int(w)), dtype=np.uint8)
        for h, w in rng.integers(1, 300, (60, 2))
    ]
    for p in planes:
        out = _unit(p)
        assert out.dtype == np.float32 and out.shape == p.shape
        assert np.array_equal(out.view(np.uint32), (p / np.float32(255)).view(np.uint32))


@pytest.mark.parametrize("case", ["paeth", "chromium", "large chromium", "large paeth"])
def test_a_png_is_inflated_once(case, monkeypatch):
    """A small PNG the canvas decoder declines (Paeth rows) goes to Pillow without a second
    inflate; a small canvas is read by the canvas decoder, a large one by decode_png."""
    from model.input import png as png_module

    side = WORKING_SIDE + 60 if case.startswith("large") else 280
    pixels = np.zeros((side, side, 4), np.uint8)
    pixels[side // 4 : side * 3 // 4, side // 2 - 12 : side // 2 + 12] = 255  # a 1
    rows = [4] * side if case.endswith("paeth") else [2] * side
    data = encode_png(pixels, rows)
    calls = []
    inflate = png_module._inflate
    monkeypatch.setattr(png_module, "_inflate", lambda *a: calls.append(1) or inflate(*a))
    new = _outcome(data)
    assert len(calls) == 1
    _old_pipeline(monkeypatch)
    _same_outcome(new, _outcome(data))


def test_transparency_is_shown_over_what_makes_the_ink_visible():
    """Black ink on a transparent field showed as a black square (over black, as the
    canvas's white strokes are shown); dark ink is now shown over white."""
    from model.input.decode import display_rgb

    field = np.zeros((50, 50, 4), np.uint8)
    field[10:40, 20:25] = (0, 0, 0, 255)  # black ink
    shown = display_rgb(Image.fromarray(field))
    assert shown[0, 0].tolist() == [255, 255, 255] and shown[20, 22].tolist() == [0, 0, 0]
    field[10:40, 20:25] = (255, 255, 255, 255)  # the canvas's white strokes
    assert display_rgb(Image.fromarray(field))[0, 0].tolist() == [0, 0, 0]
