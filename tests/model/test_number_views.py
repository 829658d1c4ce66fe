"""A number's digit read through other pens (`model.input.views`): the views made for a
marker and a thin pen, none for an MNIST-like pen, and every view of every piece read in
one model call with its probabilities averaged into the digit's answer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.input.filters import stroke_width
from model.input.preprocessing import (
    STROKE_LEVEL,
    STROKE_TARGET,
    normalise_stroke,
    preprocess_stages,
)
from model.input.samples import drawn_digit
from model.input.views import THICK_VIEWS, THIN_VIEWS, pen_views
from model.number import read_number


def _width(x: np.ndarray) -> float:
    return stroke_width(x > STROKE_LEVEL)


def test_a_marker_is_seen_thinned_less_in_each_view():
    pre = preprocess_stages(drawn_digit(7, width=60), piece=True)  # a marker
    views = pen_views(pre)
    assert len(views) == len(THICK_VIEWS)
    assert all(v.shape == (28, 28) and v.dtype == np.float32 for v in views)
    widths = [_width(pre.x)] + [_width(v) for v in views]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # 3.0, then 3.5, then 4.0


def test_a_thin_pen_is_seen_thickened_more_and_an_mnist_pen_not_at_all():
    pre = preprocess_stages(drawn_digit(7, width=4), piece=True)  # a thin pen
    views = pen_views(pre)
    assert len(views) == len(THIN_VIEWS)
    assert _width(views[0]) > _width(pre.x)
    assert pen_views(preprocess_stages(drawn_digit(7, width=18), piece=True)) == []


def test_a_thin_pen_is_thickened_to_thicken_to():
    crop = np.zeros((160, 160), np.float32)
    crop[20:140, 77:83] = 1.0  # a thin bar: 0.75 pixels of the 20x20 box
    per_px = 20 / 160
    default = normalise_stroke(crop, per_px)
    assert np.array_equal(default, normalise_stroke(crop, per_px, thicken_to=STROKE_TARGET))
    thicker = normalise_stroke(crop, per_px, thicken_to=3.5)
    assert _width(thicker) > _width(default) > _width(crop)


def count_calls(clf, monkeypatch) -> list[int]:
    """The size of each model call the classifier makes from now on (fused or not)."""
    sizes: list[int] = []

    def counting(real):
        def call(x):
            sizes.append(len(x))
            return real(x)

        return call

    if hasattr(clf.runtime, "predict_and_detect"):
        monkeypatch.setattr(
            clf.runtime, "predict_and_detect", counting(clf.runtime.predict_and_detect)
        )
    monkeypatch.setattr(clf, "probabilities", counting(clf.probabilities))
    return sizes


def marker_number(*digits: int):
    """Digits drawn with a marker side by side (white on black)."""
    inks = [np.asarray(drawn_digit(d, width=60)) for d in digits]
    inks = [a[:, a.any(axis=0)] for a in inks]
    width = sum(a.shape[1] for a in inks) + 30 * len(inks) + 30
    field = np.zeros((280, width), np.uint8)
    x = 30
    for a in inks:
        field[:, x : x + a.shape[1]] = a
        x += a.shape[1] + 30
    return Image.fromarray(field)


def test_views_are_averaged_into_each_answer(mnist_cnn):
    xs = np.stack([preprocess_stages(drawn_digit(d, width=60), piece=True).x for d in (7, 4)])
    views = [pen_views(preprocess_stages(drawn_digit(d, width=60), piece=True)) for d in (7, 4)]
    flat = np.stack(views[0] + views[1])
    owner = [0] * len(views[0]) + [1] * len(views[1])
    answers = mnist_cnn.predict_views(xs, flat, owner)
    alone = mnist_cnn.probabilities(np.concatenate([xs, flat]))
    for i in (0, 1):
        rows = [i] + [2 + j for j, o in enumerate(owner) if o == i]
        # (the fused graph holds the classifier with its norms folded: float32 rounding)
        np.testing.assert_allclose(answers[i].probabilities, alone[rows].mean(0), atol=1e-5)
    # Without views: the plain answers, verdicts and scores included.
    plain = mnist_cnn.predict_inputs(xs)
    bare = mnist_cnn.predict_views(xs, np.zeros((0, 28, 28), np.float32), [])
    for a, b in zip(plain, bare, strict=True):
        assert (a.label, a.verdict, a.reason) == (b.label, b.verdict, b.reason)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
        assert a.ood_score == pytest.approx(b.ood_score, abs=1e-6)


def test_a_number_reads_every_view_of_every_piece_in_one_call(mnist_cnn, monkeypatch):
    img = marker_number(7, 4, 7)
    plain = read_number(mnist_cnn, img, views=False)
    # (the labels: the 60-pixel marker's 4 is a close call for the detector, `digit` on a
    # 530-pixel copy and `unsure` on the 448-pixel one a number is read from first)
    assert [d.prediction.label for d in plain.digits] == [7, 4, 7]
    sizes = count_calls(mnist_cnn, monkeypatch)
    reading = read_number(mnist_cnn, img)
    assert len(sizes) == 1  # one model call
    n_views = sum(len(pen_views(d.stages)) for d in plain.digits)
    assert n_views == len(THICK_VIEWS) * 3 and sizes[0] == 3 + n_views
    assert [d.prediction.label for d in reading.digits] == [7, 4, 7]
    for d, p in zip(reading.digits, plain.digits, strict=True):
        assert not np.allclose(d.prediction.probabilities, p.prediction.probabilities)
