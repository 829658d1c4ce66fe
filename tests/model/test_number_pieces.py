"""A number's digits: what the number reader does that the single-digit path does not
(faint ink kept, a marker thinned less, a thin digit broken into specks found beside a
bold one, a doubtful digit marked unsure), on tiny synthetic images."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from model.input.filters import stroke_width
from model.input.preprocessing import (
    INK_LEVEL,
    PIECE_ERODE_TO,
    STROKE_LEVEL,
    STROKE_TARGET,
    normalise_stroke,
    preprocess_stages,
    with_faint,
)
from model.input.segment import segment
from model.number import WEAK, Digit, _doubt, _weak, mark_doubts
from model.prediction import Prediction


def test_faint_ink_joined_to_the_strokes_is_kept_and_a_faint_speck_is_not():
    ink = np.zeros((20, 20), np.float32)
    ink[5:15, 5:8] = 1.0  # a strong stroke
    ink[10, 8:16] = 0.1  # a faint arc leaving it (under INK_LEVEL)
    ink[2, 15:18] = 0.1  # a faint speck on its own
    kept = with_faint(ink, ink > INK_LEVEL)
    assert kept[5:15, 5:8].all() and kept[10, 8:16].all()
    assert not kept[2, 15:18].any()


def test_a_piece_keeps_a_faint_arc_that_a_single_digit_drops():
    """A 6 whose loop was drawn with a fading pen: the number reader keeps all of the loop
    (its box reaches the loop's bottom, y = 220); the single-digit path keeps its answer."""
    img = Image.new("L", (200, 260), 0)
    d = ImageDraw.Draw(img)
    d.line([(120, 30), (70, 130), (70, 200)], fill=255, width=10, joint="curve")
    d.ellipse((70, 140, 140, 220), outline=100, width=6)  # the loop, faint
    y0, y1, _, _ = preprocess_stages(img).geometry.box
    assert y1 < 212  # the single-digit path, unchanged: the loop's faint bottom cut off
    y0, y1, _, _ = preprocess_stages(img, piece=True).geometry.box
    assert y1 >= 218


def _bar(width: int) -> np.ndarray:
    crop = np.zeros((160, 160), np.float32)
    crop[20:140, 80 - width // 2 : 80 + width // 2] = 1.0
    return crop


def test_a_marker_is_thinned_to_the_piece_width_not_to_mnist_median():
    crop, per_px = _bar(48), 20 / 160  # a marker: 6 pixels of the 20x20 box
    single = normalise_stroke(crop, per_px)
    piece = normalise_stroke(crop, per_px, PIECE_ERODE_TO)
    w_single = stroke_width(single > STROKE_LEVEL)
    w_piece = stroke_width(piece > STROKE_LEVEL)
    w_crop = stroke_width(crop > STROKE_LEVEL)
    assert w_single < w_piece < w_crop  # thinned, less than to MNIST's median
    # (the erosion's radius: half the difference of the targets, in crop pixels)
    assert abs((w_piece - w_single) * per_px - (PIECE_ERODE_TO - STROKE_TARGET)) < 0.35
    thin = _bar(6)  # a thin pen is thickened as for a single digit
    thickened = normalise_stroke(thin, per_px, PIECE_ERODE_TO)
    assert np.array_equal(thickened, normalise_stroke(thin, per_px))


def test_a_thin_digit_broken_into_specks_beside_a_marker_is_one_digit():
    """A thin pen's 0 broken into twelve arcs, each under the speck share of a marker's 1:
    weighed together they are a digit, and one."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 40), (80, 240)], fill=255, width=40)  # a marker's 1
    for a in range(0, 360, 30):
        d.arc((200, 40, 340, 240), a, a + 27, fill=255, width=3)  # 3-pixel gaps
    seg = segment(img)
    assert len(seg.pieces) == 2
    assert seg.pieces[1].box[0] >= 195 and seg.pieces[1].box[2] <= 345


def test_a_thin_digit_broken_into_far_apart_arcs_is_found():
    """A thin pen's 0 in twelve short arcs with gaps wider than `FRAGMENT_GAP` (~22 pixels
    against 16) beside a marker's 1: weighed among themselves (`LOOSE_GAP`) they are a
    digit, and one."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 40), (80, 240)], fill=255, width=40)  # a marker's 1
    for a in range(0, 360, 30):
        d.arc((200, 40, 340, 240), a, a + 15, fill=255, width=3)
    seg = segment(img)
    assert len(seg.pieces) == 2
    assert seg.pieces[1].box[0] >= 195 and seg.pieces[1].box[2] <= 345


def test_specks_around_a_digit_stay_out():
    """Dust beside a digit (a chain of dots touching its ink once grown by the fragment
    gap) is not a broken digit, however much of it there is; a lone dot neither."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 40), (80, 240)], fill=255, width=40)
    for i in range(12):  # each dot a speck, all of them together more than one
        x = 104 + 11 * i
        d.ellipse((x, 136, x + 7, 143), fill=255)  # 3-pixel gaps
    d.ellipse((380, 100, 386, 106), fill=255)  # a dot far from it
    (piece,) = segment(img).pieces
    assert piece.box[2] <= 102  # only the 1


def _digit(label: int, probability: float, verdict: str = "digit") -> Digit:
    probs = np.full(10, (1 - probability) / 9, np.float32)
    probs[label] = probability
    p = Prediction(label, probability, probs, str(label), verdict)  # type: ignore[arg-type]
    return Digit((0, 0, 1, 1), np.zeros((28, 28), np.float32), p, False)


def test_a_weak_digit_is_marked_unsure_with_why():
    weak = _weak(_digit(4, WEAK - 0.1))
    assert weak.prediction.verdict == "unsure" and "probability" in weak.prediction.reason
    assert _weak(_digit(4, WEAK + 0.1)).prediction.verdict == "digit"
    refused = _digit(4, 0.3, "not_a_digit")
    assert _doubt(refused, "x").prediction.verdict == "not_a_digit"  # never softened
    judged = replace(_digit(4, 0.3, "unsure"), touching=True)
    assert _doubt(judged, "x").prediction.reason is None  # the judge's own reason stays


def test_a_close_call_and_a_weak_digit_are_marked_in_a_number_not_alone():
    weak, sure = _digit(4, WEAK - 0.1), _digit(2, 0.99)
    assert mark_doubts([weak], {})[0].prediction.verdict == "digit"  # alone: as a single digit
    marked = mark_doubts([weak, sure, sure], {2: "a close call"})
    assert [d.prediction.verdict for d in marked] == ["unsure", "digit", "unsure"]
    assert marked[2].prediction.reason == "a close call"


def test_a_thin_digits_flag_and_its_broken_body_are_one_digit_not_its_neighbours():
    """A thin pen's 5 beside a marker's 1: its flag is heavy enough to keep but too short
    to be a digit, its body broken into specks. Weighed together they are the 5, its own
    digit, not a flag joined to the 1."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 40), (80, 240)], fill=255, width=40)  # a marker's 1
    d.line([(150, 50), (250, 50)], fill=255, width=6)  # the 5's flag
    for a in range(200, 480, 40):  # its body: short arcs, each a speck, all of them too
        d.arc((130, 90, 250, 230), a, a + 8, fill=255, width=3)
    pieces = segment(img).pieces
    assert len(pieces) == 2
    x0, y0, x1, y1 = pieces[1].box
    assert x0 >= 120 and y0 <= 50 and y1 >= 200  # the flag and the body


def test_a_thin_one_in_faint_ink_between_its_strong_dashes_is_found():
    """A thin pen's 1 beside a marker's 1, its stroke faint but for short strong dashes
    that weigh less than a speck together: the faint ink joins them (hysteresis), so it is
    one digit as tall as the other, not a row of specks."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 40), (80, 240)], fill=255, width=40)
    d.line([(300, 40), (300, 240)], fill=90, width=3)  # the faint stroke
    for y in range(40, 240, 20):
        d.line([(300, y), (300, y + 9)], fill=255, width=3)  # its strong dashes
    pieces = segment(img).pieces
    assert len(pieces) == 2
    x0, y0, x1, y1 = pieces[1].box
    assert x0 >= 290 and y1 - y0 >= 180


def test_faint_ink_between_two_digits_does_not_join_them():
    """Two marker 1s joined by a faint smudge stay two digits (the faint ink joins a thin
    pen's bits, never two digits)."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(100, 40), (100, 240)], fill=255, width=40)
    d.line([(220, 40), (220, 240)], fill=255, width=40)
    d.line([(100, 140), (220, 140)], fill=90, width=3)  # the smudge
    assert len(segment(img).pieces) == 2


def test_faint_ink_joins_one_stretch_never_two():
    """The hysteresis itself (`_with_faint`): faint ink touching one stroke joins it (a thin
    pen's faint tail); faint ink touching two strokes heavier than specks (a bridge between
    two digits) is left out, whatever else it touches."""
    from model.input.segment import _with_faint

    ink = np.zeros((160, 300), np.float32)
    ink[30:130, 40:70] = ink[30:130, 90:120] = 1.0  # two digits' strokes ...
    ink[78:82, 70:90] = 0.1  # ... and a faint bridge between them
    ink[30:130, 180:210] = 1.0  # a third digit's stroke ...
    ink[130:140, 190:194] = 0.1  # ... its faint tail ...
    ink[40:44, 222:226] = 1.0  # ... and faint ink from it to a speck
    ink[42, 210:222] = 0.1
    strong = ink > 0.2
    got = _with_faint(ink, strong)
    assert got[strong].all()
    assert not got[78:82, 70:90].any()  # the bridge stays out
    assert got[130:140, 190:194].all()  # the tail joins its stroke
    assert got[42, 210:222].all()  # a speck is not a second digit: this ink joins


def test_a_faint_expanse_beside_a_digit_does_not_join_it():
    """A faint stretch of paper (a shadow, a smudge) running from one digit under the next:
    only faint ink close to the strokes joins them (`FAINT_REACH`), so the first digit's
    box does not grow under the second and swallow it."""
    img = Image.new("L", (420, 280), 0)
    d = ImageDraw.Draw(img)
    d.rectangle((100, 200, 380, 260), fill=90)  # the smudge, touching the first 1
    d.line([(80, 40), (80, 240)], fill=255, width=40)
    d.line([(300, 40), (300, 180)], fill=255, width=40)
    assert len(segment(img).pieces) == 2


def test_a_wide_blob_zero_is_not_cut_through_its_loop():
    """A 0 much wider than tall (a squat, thick ring): a cut would cross its hole, so it
    is one digit with no cut offered; two touching rings still are cut where they touch."""
    img = Image.new("L", (360, 200), 0)
    ImageDraw.Draw(img).ellipse((30, 40, 290, 160), outline=255, width=30)
    (group,) = segment(img).groups
    assert group.split is None
    img = Image.new("L", (360, 200), 0)
    d = ImageDraw.Draw(img)
    d.ellipse((30, 30, 120, 170), outline=255, width=20)
    d.ellipse((115, 30, 205, 170), outline=255, width=20)  # touching the first
    (group,) = segment(img).groups
    assert group.split is not None and len(group.split) == 2


def test_segmentation_labels_its_ink_as_opencv_s_default_labelling_does():
    """segment's faster labelling (Grana's) numbers the components as OpenCV's default
    one, on blotches, strokes and specks of every density: the rules that walk them in
    label order see the same order."""
    import cv2

    from model.input.segment import _labels, _stats

    rng = np.random.default_rng(5)
    for density in (0.02, 0.1, 0.3, 0.5, 0.7):
        for shape in ((1, 1), (3, 40), (57, 91), (197, 316)):
            mask = rng.random(shape) < density
            mask |= cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
            mask &= rng.random(shape) < 0.9
            n, labels, stats, centroids = cv2.connectedComponentsWithStats(
                mask.view(np.uint8), connectivity=8
            )
            m, ours, our_stats, our_centroids = _stats(mask)
            assert m == n and np.array_equal(ours, labels) and np.array_equal(our_stats, stats)
            assert _labels(mask)[0] == n and np.array_equal(_labels(mask)[1], labels)


def test_a_page_of_dots_is_refused_before_a_mask_is_made_for_each():
    """Thousands of equal dots (each a mark heavier than a speck, beside the others) are
    refused in words at once: a mask of the whole image for each of them once took
    gigabytes."""
    import pytest

    from model.errors import NoiseImageError
    from model.input.segment import MAX_MARKS

    field = np.zeros((600, 896), np.uint8)
    field[3::6, 3::6] = 255
    field[4::6, 3::6] = field[3::6, 4::6] = field[4::6, 4::6] = 255  # 2x2 dots, 15,000
    with pytest.raises(NoiseImageError, match="separate marks: too many to read"):
        segment(Image.fromarray(field))
    few = np.zeros((200, 400), np.uint8)
    for i in range(MAX_MARKS // 8):  # a few dozen dots are still read (and judged) as marks
        few[50:60, 10 + 12 * i : 18 + 12 * i] = 255
    segment(Image.fromarray(few))


def test_a_long_thin_line_is_one_mark_not_hundreds_of_digits(mnist_cnn):
    """A stroke one pixel high is far wider than a digit of its height, but no row of
    hundreds of one-pixel digits (each read through the whole pipeline): one mark."""
    line = np.zeros((100, 300), np.uint8)
    line[50, 20:280] = 255
    found = segment(line)
    assert len(found.groups) == 1 and found.groups[0].split is None
    reading = mnist_cnn.read_number(line)
    assert len(reading.digits) == 1 and reading.text is None  # refused, as one mark
