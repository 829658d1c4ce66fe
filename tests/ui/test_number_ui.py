"""The Draw page's number mode and the single-digit pad's hint, through Streamlit's AppTest
(the pad's state set as the pad leaves it after a stroke)."""

from __future__ import annotations

import html

import numpy as np
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from model.input.samples import drawn_digit
from tests.helpers import ROOT, png
from tests.ui.test_app import pad_state, texts


def _ink(mark: int | str) -> np.ndarray:
    """A digit `drawn_digit` draws, or "x": the letter X in two pen strokes."""
    if mark != "x":
        return np.asarray(drawn_digit(mark).convert("L"))
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).line([(80, 60), (200, 220)], fill=255, width=18)
    ImageDraw.Draw(img).line([(200, 60), (80, 220)], fill=255, width=18)
    return np.asarray(img)


def canvas_number(*digits: int | str) -> Image.Image:
    """Digits side by side as the pad sends them: white strokes on a transparent field."""
    inks = [_ink(d) for d in digits]
    inks = [a[:, a.max(axis=0) > 0] for a in inks]
    field = np.zeros((280, sum(a.shape[1] for a in inks) + 30 * (len(inks) + 1)), np.uint8)
    x = 30
    for a in inks:
        field[:, x : x + a.shape[1]] = a
        x += a.shape[1] + 30
    rgba = Image.new("RGBA", (field.shape[1], 280), (255, 255, 255, 0))
    rgba.putalpha(Image.fromarray(field))
    return rgba


def number_mode(*digits: int | str, timeout: int = 120) -> AppTest:
    """The Draw page in number mode, run with `digits` on its wide pad (after a stroke)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["draw_what"] = "number"
    at.session_state["number_pad"] = pad_state(canvas_number(*digits))
    return at.run()


def test_number_mode_shows_each_digit_with_its_map_and_trust():
    at = number_mode(7, 4, 1)
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
    said = html.unescape(texts(at))
    assert "this looks like 3 digits (741)" in said
    # where to read it, in this page's words (the Upload page named CLI flags: a user test)
    assert "read it as a number (choose 'A number' above the pad)" in said
    assert "--number" not in said and "/v1/read" not in said


def test_upload_with_numbers_off_names_its_own_switch():
    """'Read numbers' off, an upload of 47 said: read it as a number "(Draw: 'A number';
    --number; /v1/read)" beside the switch that does it (a user test)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key="uploads").set_value([("47.png", png(canvas_number(4, 7)), "image/png")])
    at.run()
    at.toggle(key="upload_numbers").set_value(False).run()
    assert not at.exception, at.exception
    said = html.unescape(texts(at))
    assert "this looks like 2 digits (47): read it as a number (turn on 'Read numbers' above)" in (
        said
    ), said
    assert "--number" not in said and "/v1/read" not in said


def test_number_mode_makes_one_digit_another():
    """ "Change one digit": the 4 of 741 chosen, then "Make the 4 a 9" edits it alone."""
    at = number_mode(7, 4, 1, timeout=300)
    assert not at.exception, at.exception
    at.segmented_control(key="number_cf_digit").set_value(1).run()
    assert not at.exception, at.exception
    assert "What would make the 4 a …?" in [h.value for h in at.subheader]
    buttons = {b.key: b.label for b in at.button}
    assert buttons["number_cf_make_9"] == "a 9" and "number_cf_make_4" not in buttons
    assert at.button(key="number_cf_make_9").help == "Make the 4 a 9"
    at.button(key="number_cf_make_9").click().run()
    assert not at.exception, at.exception
    successes = [s.value for s in at.success]
    assert any(s.startswith("The model reads 9 ") for s in successes), successes
    assert "**Your 4 as a 9**" in [m.value for m in at.markdown]


def test_a_mark_that_is_not_a_digit_is_not_offered_to_change_and_one_digit_is_singular():
    """4, X, 7: the X, judged not a digit, was offered as "second (4)" to edit."""
    at = number_mode(4, "x", 7, timeout=300)
    assert not at.exception, at.exception
    assert "Not a digit" in texts(at)
    offered = at.segmented_control(key="number_cf_digit").options
    assert len(offered) == 2 and not any("second" in o for o in offered), offered
    at = number_mode(7)
    assert "1 digit<" in texts(at) and "1 digits" not in texts(at)


def test_upload_shows_several_numbers():
    """Two uploaded numbers: each its digits (their containers keyed apart)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key="uploads").set_value(
        [
            ("741.png", png(canvas_number(7, 4, 1)), "image/png"),
            ("47.png", png(canvas_number(4, 7)), "image/png"),
        ]
    ).run()
    assert not at.exception, at.exception
    said = texts(at)
    assert ">741<" in said and ">47<" in said
    assert said.count("Trust: ") == 5  # each digit of both numbers has its map
    # The results row of a number: as sure as its least sure digit, and its digits'
    # answers where the reading has nothing else to say (both were blank, a user test).
    table = at.dataframe[0].value
    row = table[table["file"] == "741.png"].iloc[0]
    assert row["class"] == "741" and row["sure"].endswith("%"), row.to_dict()
    assert row["why"].startswith("3 digits: 7 ("), row.to_dict()


def test_a_target_chosen_for_one_digit_is_not_searched_for_a_digit_already_it():
    """ "a 4" clicked for the 7 of 741, then the 4 chosen: no search for "make the 4 a 4"
    (the button loop once shadowed the digit's label, and the check never held)."""
    at = number_mode(7, 4, 1, timeout=300)
    at.segmented_control(key="number_cf_digit").set_value(0).run()
    at.button(key="number_cf_make_4").click().run()
    assert "**Your 7 as a 4**" in [m.value for m in at.markdown]
    at.segmented_control(key="number_cf_digit").set_value(1).run()
    assert not at.exception, at.exception
    assert not any(str(m.value).startswith("**Your 4 as a") for m in at.markdown)
    assert "number_cf_make_4" not in {b.key for b in at.button}
