"""The Draw page's number mode and the single-digit pad's hint, through Streamlit's AppTest
(the pad's state set as the pad leaves it after a stroke)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from model.input.samples import drawn_digit
from tests.helpers import ROOT
from tests.ui.test_app import pad_state, texts


def canvas_number(*digits: int) -> Image.Image:
    """Digits side by side as the pad sends them: white strokes on a transparent field."""
    inks = [np.asarray(drawn_digit(d).convert("L")) for d in digits]
    inks = [a[:, a.max(axis=0) > 0] for a in inks]
    field = np.zeros((280, sum(a.shape[1] for a in inks) + 30 * (len(inks) + 1)), np.uint8)
    x = 30
    for a in inks:
        field[:, x : x + a.shape[1]] = a
        x += a.shape[1] + 30
    rgba = Image.new("RGBA", (field.shape[1], 280), (255, 255, 255, 0))
    rgba.putalpha(Image.fromarray(field))
    return rgba


def test_number_mode_shows_each_digit_with_its_map_and_trust():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["draw_what"] = "number"
    at.session_state["number_pad"] = pad_state(canvas_number(7, 4, 1))
    at.run()
    assert not at.exception, at.exception
    said = texts(at)
    assert ">741<" in said  # the number
    for label in "741":
        assert f"dl-label'>{label}<" in said  # each digit's answer
    assert said.count("<figure class='dl-fig'") >= 3 + 1  # a map per digit, and the legend
    assert said.count("Trust: ") == 3  # each map's trust


def test_number_mode_before_any_stroke_asks_for_a_number():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["draw_what"] = "number"
    at.run()
    assert not at.exception, at.exception
    assert "Write a number on the wide pad" in texts(at)


def test_digit_mode_says_when_the_drawing_looks_like_several_digits():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["pad"] = pad_state(canvas_number(7, 4, 1))
    at.run()
    assert not at.exception, at.exception
    assert "this looks like 3 digits (741)" in texts(at)
