"""model.input.transparency: a picture whose paper was made transparent is read as a picture,
a pen's strokes on a transparent field as their alpha (the canvas)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter

from model.input.decode import to_float
from model.input.png import encode_up
from model.input.preprocessing import (
    CANVAS_CLEAR,
    clear_share,
    ink_is_alpha,
    preprocess_stages,
)
from model.input.samples import drawn_digit
from model.input.transparency import opaque_picture
from tests.helpers import png  # (Pillow's own filters: read by Pillow, not the fast path)

DIGITS = (0, 1, 4, 7)


def scan(digit: int, seed: int = 0) -> np.ndarray:
    """(280, 280) uint8: a dark pen's digit on grainy, slightly uneven off-white paper."""
    rng = np.random.default_rng(seed)
    ink = drawn_digit(digit, width=12).filter(ImageFilter.GaussianBlur(1.2))
    ink = np.asarray(ink, np.float32) / 255
    grain = cv2.GaussianBlur(rng.normal(0, 6, ink.shape).astype(np.float32), (0, 0), 1.5)
    paper = 244 - 8 * np.linspace(0, 1, ink.shape[1])[None] + grain
    return np.clip(paper * (1 - ink) + 35 * ink, 0, 255).astype(np.uint8)


def cut_out(gray: np.ndarray, percentile: float) -> Image.Image:
    """The scan with its paper above `percentile` made transparent (a background remover
    with some tolerance): the rest of the paper stays opaque round the ink."""
    clear = gray >= np.percentile(gray, percentile)
    return Image.fromarray(np.dstack([gray] * 3 + [np.where(clear, 0, 255)]).astype(np.uint8))


def pen(digit: int, colour: tuple[int, int, int], width: int = 18) -> Image.Image:
    """A canvas: strokes of one colour, their alpha antialiased, on a transparent field."""
    alpha = np.asarray(drawn_digit(digit, width=width))
    rgb = np.where(alpha[..., None] > 0, np.array(colour, np.uint8), 0)
    return Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA")


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (185, 60, 22), (250, 230, 40)])
@pytest.mark.parametrize("width", [6, 18, 60])
def test_a_pens_strokes_are_its_alpha_whatever_their_colour_and_width(colour, width):
    gray, alpha = to_float(pen(7, colour, width))
    assert ink_is_alpha(alpha)
    assert opaque_picture(gray, alpha) is None


def test_two_pens_of_different_colours_are_strokes_too():
    img = np.array(pen(4, (250, 230, 40)))
    img[:, 140:, :3] = np.where(img[:, 140:, 3:] > 0, np.array((20, 20, 160), np.uint8), 0)
    gray, alpha = to_float(Image.fromarray(img, "RGBA"))
    assert opaque_picture(gray, alpha) is None


def test_a_scan_whose_paper_was_made_transparent_is_filled_in_with_its_paper():
    gray8 = scan(7)
    gray, alpha = to_float(cut_out(gray8, 60))
    assert ink_is_alpha(alpha)
    picture = opaque_picture(gray, alpha)
    assert picture is not None
    clear = alpha < 0.5
    paper = np.median(gray8[~clear & (gray8 > 150)]) / 255
    assert np.abs(picture[clear] - paper).max() < 0.05  # filled with the paper left
    assert np.array_equal(picture[alpha == 1], gray[alpha == 1])  # the rest as it was


@pytest.mark.parametrize("percentile", [50, 80])
@pytest.mark.parametrize("digit", DIGITS)
def test_a_cut_out_scan_reads_as_its_digit(mnist_cnn, digit, percentile):
    """With its transparency read as ink, the paper left round the ink was read with it:
    a cut-out photo of a digit was "not a digit" 87 to 90 times in 100 (scratch)."""
    data = png(cut_out(scan(digit, seed=digit), percentile))
    stages = preprocess_stages(data)
    assert stages.polarity == "dark-on-light"
    p = mnist_cnn.predict(data)
    assert (p.label, p.verdict) == (digit, "digit"), (p.label, p.verdict, p.reason)


def textured(digit: int, colour: tuple[int, int, int], grain: float, seed: int = 0) -> Image.Image:
    """A pencil's or a crayon's stroke: its colour varies from pixel to pixel by `grain`."""
    alpha = np.asarray(drawn_digit(digit, width=45))
    noise = np.random.default_rng(seed).normal(0, grain, alpha.shape).astype(np.float32)
    rgb = np.clip(
        np.array(colour, np.float32) + 2 * cv2.GaussianBlur(noise, (0, 0), 1)[..., None], 0, 255
    )
    return Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA")


@pytest.mark.parametrize(("colour", "grain"), [((100, 100, 100), 45), ((200, 40, 40), 90)])
@pytest.mark.parametrize("digit", DIGITS)
def test_a_textured_pen_is_strokes_not_a_picture(mnist_cnn, digit, colour, grain):
    """A pencil's grain lies on both sides of its colour: its darker and lighter specks
    were taken for ink enclosed by paper, and a grey 7 read "unsure 9" (a review)."""
    img = textured(digit, colour, grain, seed=digit)
    assert opaque_picture(*to_float(img)) is None
    p = mnist_cnn.predict(png(img))
    assert (p.label, p.verdict) == (digit, "digit"), (p.label, p.verdict, p.reason)


@pytest.mark.parametrize("digit", DIGITS)
def test_the_same_cut_out_reads_the_same_from_any_encoder(mnist_cnn, digit):
    """OpenCV's PNG (Sub rows) and a canvas's export (every row Up) took the fast path,
    which reads alpha as ink: the cut-out Pillow's PNG read as 4 read as "7, not a digit"
    (two reviews). A canvas's export is read from its alpha alone only where at least
    CANVAS_CLEAR of it is transparent: strokes on a field, as a drawing is."""
    rgba = np.array(cut_out(scan(digit, seed=digit), 80))  # (a fifth of it transparent)
    written = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))[1].tobytes()
    for data in (png(Image.fromarray(rgba)), written, encode_up(rgba)):
        p = mnist_cnn.predict(data)
        assert (p.label, p.verdict) == (digit, "digit"), (p.label, p.verdict, p.reason)
    drawing = np.array(pen(digit, (0, 0, 0)))
    assert clear_share(drawing[..., 3]) >= CANVAS_CLEAR
    assert preprocess_stages(encode_up(drawing)).polarity == "alpha"


@pytest.mark.parametrize("digit", DIGITS)
def test_a_canvas_of_any_pen_reads_as_before(mnist_cnn, digit):
    for colour in ((255, 255, 255), (0, 0, 0), (185, 60, 22)):
        stages = preprocess_stages(png(pen(digit, colour)))
        assert stages.polarity == "alpha"
        assert mnist_cnn.predict_input(stages.x).label == digit


def test_a_garment_cut_out_with_a_print_is_its_alpha_for_the_fashion_recipe():
    """Filled shapes are read as their alpha: a grey garment cut out of its photo, a dark
    "42" printed on it, was taken for ink on paper, the garment for the paper, and read
    "Sandal, not_a_digit" (a review: 0 of 102 such garments right, 67 without the print)."""
    alpha = np.zeros((224, 224), np.uint8)
    cv2.rectangle(alpha, (50, 30), (174, 200), 255, cv2.FILLED)  # a bag, say
    grey = np.where(alpha > 0, 150, 0).astype(np.uint8)
    cv2.putText(grey, "42", (80, 125), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 20, 5)
    img = Image.fromarray(np.dstack([grey] * 3 + [alpha]).astype(np.uint8), "RGBA")
    assert preprocess_stages(png(img), recipe="fashion").polarity == "alpha"
    assert preprocess_stages(png(img)).polarity != "alpha"  # (strokes: the print is the ink)


def cut_out_page(seed: int) -> Image.Image:
    """A photographed page with a drawn 1 on it, cut out of its photo by a background
    remover: the page opaque, the desk transparent (RGB 0 there), the page's edge blurred
    into the desk by the camera, so that the opaque pixels touching the transparent field
    are darker than the page."""
    rng = np.random.default_rng(seed)
    rgb, alpha = np.zeros((400, 400, 3), np.float32), np.zeros((400, 400), np.float32)
    rgb[25:375, 70:330] = rng.uniform(215, 240) + rng.normal(0, 2.5, (350, 260, 1))
    alpha[25:375, 70:330] = 1
    cv2.line(rgb, (200, 240), (195, 330), (30, 30, 110), 9)
    turn = cv2.getRotationMatrix2D((200, 200), rng.uniform(-12, 12), 1)
    rgb, alpha = cv2.warpAffine(rgb, turn, (400, 400)), cv2.warpAffine(alpha, turn, (400, 400))
    rgb = cv2.GaussianBlur(rgb, (0, 0), 1.2)
    return Image.fromarray(np.dstack([np.clip(rgb, 0, 255), alpha * 255]).astype(np.uint8), "RGBA")


def test_a_page_cut_out_with_a_dark_edge_is_filled_with_the_page_not_its_edge(mnist_cnn):
    """The paper's level was the median of the opaque pixels touching the transparent
    field: on a cut-out page, its edge mixed with the desk (0.58 where the page is 0.87).
    The field filled in that dark grey read as slabs of ink round the page, and a 1 as
    "5, digit" (a review: 8 such wrong answers in 100). The page is the lighter of that
    edge and all its opaque pixels."""
    said = [mnist_cnn.predict(cut_out_page(seed)) for seed in range(6)]
    assert [(p.label, p.verdict) for p in said] == [(1, "digit")] * 6, said
