"""A number is cut from a 448-pixel copy first, and again from a larger one only where
that copy is in doubt or its digits came out small (`model.input.segment.segment`); its
pieces reach the per-digit preprocessing without a trip through Pillow, each from its own
stretch of the number's ink map."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import model.input.segment as seg_module
from model.input import decode as decode_module
from model.input.preprocessing import preprocess_stages
from tests.helpers import number


def on_paper(ink: Image.Image, size: tuple[int, int]) -> bytes:
    """White-on-black strokes as dark ink on grey paper, lit unevenly, as a JPEG."""
    w, h = size
    field = np.zeros((h, w), np.float32)
    a = np.asarray(ink, np.float32) / 255
    y, x = (h - a.shape[0]) // 2, (w - a.shape[1]) // 2
    field[y : y + a.shape[0], x : x + a.shape[1]] = a
    light = 0.85 - 0.15 * np.linspace(0, 1, w)[None, :]
    gray = light * (1 - field) + 0.15 * field
    rgb = np.stack([gray, gray * 0.97, gray * 0.92], axis=-1)
    buf = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def sides(monkeypatch) -> list[int]:
    """The sides of the copies `segment` cuts, in order."""
    seen: list[int] = []
    inner = seg_module._segment

    def spy(img, side, paper):
        seen.append(side)
        return inner(img, side, paper)

    monkeypatch.setattr(seg_module, "_segment", spy)
    return seen


def test_a_number_that_fills_a_photo_is_cut_from_one_448_pixel_copy(mnist_cnn, sides):
    photo = on_paper(number(4, 7), (640, 360))
    assert mnist_cnn.read_number(photo).text == "47"
    assert sides == [448]


def test_a_number_small_in_a_large_photo_is_cut_where_its_digits_are_taller(mnist_cnn, sides):
    small = number(4, 7).resize((150, 140), Image.Resampling.BOX)  # digits ~110 px tall
    photo = on_paper(small, (1600, 900))  # 31 px tall on a 448-pixel copy
    assert mnist_cnn.read_number(photo).text == "47"
    assert sides[0] == 448 and len(sides) == 2
    assert sides[1] == seg_module.NUMBER_MAX_SIDE  # (80 px would need 1,156: the cap)


def test_a_cut_in_doubt_is_decided_on_the_larger_copy(sides):
    touching = on_paper(number(4, 4, touch=5), (1000, 560))  # one stretch of ink, two 4s
    found = seg_module.segment(touching)
    assert sides == [448, seg_module.NUMBER_MAX_SIDE]
    assert len(found.groups) == 1 and found.groups[0].split is not None
    # In doubt and small too: the larger copy once, not a third copy for the small digits.
    sides.clear()
    small = number(4, 4, touch=5).resize((170, 140), Image.Resampling.BOX)
    seg_module.segment(on_paper(small, (1600, 900)))
    assert sides == [448, seg_module.NUMBER_MAX_SIDE]


def test_a_refused_mark_is_read_again_carefully(mnist_cnn, sides, monkeypatch):
    """Where a mark is refused, the number is read again from one copy of up to 896
    pixels with more paper round each digit (the reading before the quick settings); a
    reading those settings did not touch is not read twice."""
    import model.number as number_module

    text = number_module._text
    refusals = iter([True])  # the first reading refuses a mark, the second does not

    def refuse_once(digits):
        if next(refusals, False):
            return None, "the first mark does not look like a digit"
        return text(digits)

    monkeypatch.setattr(number_module, "_text", refuse_once)
    photo = on_paper(number(4, 7), (640, 360))
    reading = mnist_cnn.read_number(photo)
    assert reading.text == "47" and reading.refusal is None
    assert sides == [448, seg_module.NUMBER_MAX_SIDE]  # the quick copy, then the careful one
    careful = seg_module.segment(photo, careful=True)
    assert not careful.quick and seg_module.segment(photo).quick
    assert (
        careful.groups[0].whole.image.shape > seg_module.segment(photo).groups[0].whole.image.shape
    )
    sides.clear()
    refusals = iter([True])
    drawn = number(4, 7)  # light on dark, within 896 pixels: nothing quick about it
    assert not seg_module.segment(drawn).quick
    assert mnist_cnn.read_number(drawn).refusal is not None and len(sides) == 2


def test_neighbours_sharing_columns_are_in_doubt():
    """A thin stroke that joined a 6's stem to its loop can fade on the smaller copy:
    the two parts then share columns, which two digits side by side do not."""

    def group(x0: int, x1: int) -> seg_module.Group:
        piece = seg_module.Piece((x0, 0, x1, 50), np.zeros((1, 1), np.float32), False)
        return seg_module.Group(piece, None)

    assert not seg_module._in_doubt([group(0, 40), group(50, 90), group(95, 130)])
    assert seg_module._in_doubt([group(0, 40), group(35, 90)])
    cut = seg_module.Group(group(0, 90).whole, [group(0, 40).whole, group(45, 90).whole])
    assert seg_module._in_doubt([cut])


def test_a_pieces_array_is_read_as_pillow_reads_it(monkeypatch):
    """`small_gray_array` against `from_array` + `to_float`: every stage bit for bit, on
    the pieces of a photographed number (their paper's level off the 8-bit grid too)."""
    photo = on_paper(number(7, 1, 4), (640, 360))
    pieces = [
        p.image for g in seg_module.segment(photo).groups for p in [g.whole, *(g.split or [])]
    ]
    assert len(pieces) >= 3
    # and a piece whose paper lies between two 8-bit levels (a median of an even count),
    # nearer the upper one
    off_grid = pieces[0].copy()
    off_grid[off_grid > 0.5] = np.float32(200.6 / 255)
    pieces.append(off_grid)
    fast = [preprocess_stages(p, piece=True) for p in pieces]
    monkeypatch.setattr(decode_module, "small_gray_array", lambda image, side: None)
    for p, a in zip(pieces, fast, strict=True):
        b = preprocess_stages(p, piece=True)
        for field in ("gray", "ink", "mask", "cropped", "fitted", "x"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
        assert a.geometry == b.geometry and a.polarity == b.polarity
        assert np.array_equal(np.asarray(a.display), np.asarray(b.display))


def test_only_plain_grey_arrays_skip_pillow():
    small = decode_module.small_gray_array
    assert small(np.full((20, 20), 0.5, np.float32), 448) is not None
    assert small(np.full((20, 20), 0.5), 448) is not None  # float64
    for refused in (
        np.full((20, 20), 200.0, np.float32),  # 0..255 given as floats: from_array scales
        np.full((20, 20), np.nan, np.float32),
        np.full((20, 20), -np.inf, np.float32),
        np.zeros((20, 20, 3), np.float32),
        np.zeros((20, 20), np.uint8),
        np.zeros((500, 20), np.float32),  # larger than the working copy
    ):
        assert small(refused, 448) is None


def test_a_colour_jpeg_is_decoded_as_its_luma_where_only_luminance_is_read():
    """The decoder's luma (no chroma decoded) is Pillow's RGB -> L of the decoded colours
    on a photographed number; saturated colours differ a few levels (the RGB decode
    clips and rounds), the image stays the same size, and a large JPEG is still decoded
    at a scale."""
    paper = on_paper(number(4, 7), (640, 360))
    rng = np.random.default_rng(0)
    colours = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (90, 160, 3), np.uint8)).resize((640, 360)).save(
        colours, "JPEG", quality=85
    )
    for data, most in ((paper, 1), (colours.getvalue(), 12)):
        luma = decode_module.decode(data, decode_module.MAX_PIXELS, gray=True)
        full = decode_module.decode(data, decode_module.MAX_PIXELS)
        assert luma.mode == "L" and full.mode == "RGB" and luma.size == full.size
        diff = np.abs(np.asarray(luma, np.int16) - np.asarray(full.convert("L"), np.int16))
        assert diff.max() <= most and diff.mean() < 0.5
    big = io.BytesIO()
    Image.new("RGB", (4000, 2250), (200, 180, 150)).save(big, "JPEG", quality=85)
    drafted = decode_module.decode(big.getvalue(), decode_module.MAX_PIXELS, gray=True)
    assert drafted.mode == "L" and max(drafted.size) < 4000


def test_a_large_jpegs_digits_are_boxed_in_its_own_pixels(mnist_cnn):
    """A JPEG over 2,048 pixels is decoded at a scale; the boxes were in the decoded
    image's pixels, half the original's (found by a review)."""
    ink = number(4, 7).resize((900, 720))
    photo = on_paper(ink, (4000, 2250))
    reading = mnist_cnn.read_number(photo)
    assert reading.text == "47"
    left = (4000 - ink.width) // 2 + int(np.flatnonzero(np.asarray(ink).any(axis=0))[0])
    assert abs(reading.digits[0].box[0] - left) < 40  # (the ink's left edge)
    assert 2000 < reading.digits[-1].box[2] <= 4000
    assert seg_module.segment(photo).size == (4000, 2250)


def test_each_digit_goes_on_from_its_stretch_of_the_numbers_ink_map(mnist_cnn):
    """The lighting is corrected once, on the whole number: a digit's stages start at its
    own stretch of the number's ink map, and its map and its counterfactual start from the
    very stages it was read from."""
    from model.number import digit_stages, piece_stages

    photo = on_paper(number(4, 7), (640, 360))
    for g in seg_module.segment(photo).groups:
        assert g.whole.ink.shape == g.whole.image.shape  # (on the picture's pixels)
        np.testing.assert_array_equal(piece_stages(mnist_cnn, g.whole).ink, g.whole.ink)
    reading = mnist_cnn.read_number(photo)
    assert reading.text == "47"
    for i, d in enumerate(reading.digits):
        np.testing.assert_array_equal(digit_stages(mnist_cnn, reading, i).x, d.x)


def test_the_light_is_corrected_once_and_each_digit_stretched_on_its_own(mnist_cnn):
    """A faint digit beside a dark one, on unevenly lit paper: the number's lighting is
    corrected once, but each digit's ink is stretched to full strength on its own, as a
    photo of that digit alone would be (a stretch shared by the number would leave the
    faint digit at a third of its strength)."""
    a = np.asarray(number(4, 7), np.float32) / 255
    half = a.shape[1] // 2
    strength = np.where(np.arange(a.shape[1]) < half, 0.8, 0.45)[None, :]  # the 7: faint
    light = 0.9 - 0.2 * np.linspace(0, 1, a.shape[1])[None, :]
    photo = (light * (1 - a * strength) * 255).astype(np.uint8)
    groups = seg_module.segment(photo).groups
    assert len(groups) == 2
    for g in groups:
        assert g.whole.ink.max() == 1.0
    assert mnist_cnn.read_number(photo).text.replace("?", "") == "47"


def test_a_reading_pickles_and_its_pictures_hold_only_their_own_pixels(mnist_cnn):
    """A digit's picture is made where it is shown; until then it holds copies of its own
    padded area only, not the number's working copy (which a page keeping readings would
    otherwise keep alive), and a reading pickles (a process pool, a cache)."""
    import pickle

    reading = mnist_cnn.read_number(on_paper(number(4, 7), (640, 360)))
    for d in reading.digits:
        piece = d.picture.args[0]  # (how the digit gets its picture: from its piece)
        held = [a.size for a in piece.picture.args if isinstance(a, np.ndarray)]
        assert held and max(held) <= d.ink.size  # (the picture, made now: its own size)
    again = pickle.loads(pickle.dumps(reading))
    assert again.text == reading.text == "47"
    pairs = zip(again.digits, reading.digits, strict=True)
    assert all(np.array_equal(a.ink, b.ink) for a, b in pairs)
