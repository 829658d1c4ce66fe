"""The Explain page's "Make it a …" section: the example 7 made a 1, beside its twin."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT


def test_explain_page_makes_the_example_seven_a_one_beside_its_adversarial_twin():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/explain.py").run()
    assert not at.exception, at.exception
    buttons = {b.key for b in at.button}
    assert {f"cf_make_{k}" for k in range(10) if k != 7} <= buttons  # every other class
    assert "cf_make_7" not in buttons  # the example is a 7 already
    at.button(key="cf_make_1").click().run()
    assert not at.exception, at.exception
    successes = [s.value for s in at.success]
    assert any(s.startswith("The model reads 1 ") and "edit" in s for s in successes), successes
    # the adversarial twin's message is no success of the user's: never in a green box
    twin = [i.value for i in at.info if "after this perturbation" in i.value]
    assert len(successes) == 1 and twin, (successes, [i.value for i in at.info])
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "The edited digit" in page and "Its adversarial twin" in page
    # (said once, in the message: "The model reads **1** (98.8 %)" below it said it twice)
    assert "The model reads **1**" not in page


def test_draw_page_buttons_are_short_and_say_it_whole_in_their_tooltip():
    """Nine buttons in the Draw page's answer column: "a 1" ends the heading's sentence
    ("Make it a 1" was cut to "M…" there); the tooltip says it whole."""
    from tests.ui.test_app import canvas_image, pad_state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["pad"] = pad_state(canvas_image(7))
    at.run()
    assert not at.exception, at.exception
    assert "What would make it a …?" in [h.value for h in at.subheader]
    button = at.button(key="draw_cf_make_1")
    assert button.label == "a 1" and button.help == "Make it a 1"
    eight = at.button(key="draw_cf_make_8")  # (the article a person would say)
    assert eight.label == "an 8" and eight.help == "Make it an 8"


def test_the_article_fits_the_class_name():
    from ui.counterfactual import article

    said = {n: f"{article(n)} {n}" for n in ("7", "8", "Ankle boot", "Trouser", "11")}
    assert list(said.values()) == ["a 7", "an 8", "an Ankle boot", "a Trouser", "an 11"]


def _button_rows(at, prefix: str) -> list[list[str]]:
    """The keys of the "Make it a …" buttons, row by row as the page lays them out (the
    columns of a row share their weight: 1/9 for a digit model's one row, 1/3 else), in
    the page's order: the keyboard's, and a screen reader's."""

    def keys(node) -> list[str]:
        own = [str(node.key)] if str(getattr(node, "key", "")).startswith(prefix) else []
        return own + [k for c in getattr(node, "children", {}).values() for k in keys(c)]

    held = [(c, keys(c)) for c in at.columns]
    inner = [(c, k) for c, k in held if k and not any(o and set(o) < set(k) for _, o in held)]
    if any(len(k) > 1 for _, k in inner):  # (buttons stacked in a column: one list each)
        return [k for _, k in inner]
    per_row = round(1 / inner[0][0].weight)
    flat = [k[0] for _, k in inner]
    return [flat[i : i + per_row] for i in range(0, len(flat), per_row)]


def test_class_names_get_three_buttons_a_row_on_the_draw_page(monkeypatch, real_data_dir):
    """fashion-cnn's nine class names in one row of the Draw page were cut to "a T…",
    "a S…", "a S…", "a S…" (Sandal, Shirt, Sneaker; a helper session); digits keep one row.
    (Its Explain page reads a test-set image: the real data, or the test is skipped; without
    them it failed, with no button to find.)"""
    from tests.ui.test_app import canvas_image, pad_state

    monkeypatch.setenv("DIGITLENS_DATA_DIR", str(real_data_dir))

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["pad"] = pad_state(canvas_image(7))
    at.run()
    digits = [f"draw_cf_make_{k}" for k in range(10) if k != 7]
    assert _button_rows(at, "draw_cf_make_") == [digits]
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    assert not at.exception, at.exception
    rows = _button_rows(at, "draw_cf_make_")
    assert [len(r) for r in rows] == [3, 3, 3]
    # row by row in the page's order (it went down each column: T-shirt/top, Dress, ...)
    order = [k for r in rows for k in r]
    assert order == sorted(order, key=lambda k: int(k.rsplit("_", 1)[1])), rows
    assert at.button(key="draw_cf_make_7").label == "a Sneaker"
    # The Explain page alike: at 1280 px its nine "Make it a …" were each cut to "Make it …"
    at.switch_page("app_pages/explain.py").run()
    assert not at.exception, at.exception
    # (it opens on the Draw page's drawing, which only a browser's pad draws again)
    assert at.radio(key="explain_source").value == "Draw"
    at.radio(key="explain_source").set_value("Test-set image").run()
    assert [len(r) for r in _button_rows(at, "cf_make_")] == [3, 3, 3]
    assert at.button(key="cf_make_7").label == "a Sneaker"


def _kinds(at) -> dict[int, str]:
    """Each Draw-page target button's look, by class: "chosen" (styled as the page's one
    chosen target) or "plain". Every button stays a "secondary" one: a button whose type
    changed was made anew, and the keyboard's focus fell to the page (a user test)."""
    styles = " ".join(h.proto.body for h in at.get("html"))
    assert {b.proto.type for b in at.button if b.key.startswith("draw_cf_make_")} == {"secondary"}
    return {
        int(b.key.rsplit("_", 1)[1]): "chosen" if f".st-key-{b.key} button" in styles else "plain"
        for b in at.button
        if b.key.startswith("draw_cf_make_")
    }


def _shown_as(at) -> list[str]:
    """The edits' headings on the page ("**Your drawing as a 1**")."""
    return [str(m.value) for m in at.markdown if str(m.value).startswith("**Your drawing as")]


def test_the_chosen_class_stands_out_and_belongs_to_its_model_and_drawing():
    """A user test: the class chosen for a 7 ("a 1") looked like the other eight buttons,
    outlived Clear (the next drawing was shown "as a 3" unasked) and a switch to
    fashion-cnn, whose class 1 is a Trouser ("Your drawing as a Trouser", unasked)."""
    from tests.ui.test_app import canvas_image, pad_state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["pad"] = pad_state(canvas_image(7))
    at.run()
    assert set(_kinds(at).values()) == {"plain"}
    at.button(key="draw_cf_make_1").click().run()
    assert not at.exception, at.exception
    assert _kinds(at)[1] == "chosen" and _kinds(at)[3] == "plain"
    assert _shown_as(at) == ["**Your drawing as a 1**"]
    at.button(key="draw_cf_make_1").click().run()  # a second click lets it go
    assert _kinds(at)[1] == "plain" and not _shown_as(at)

    at.button(key="draw_cf_make_3").click().run()
    assert _shown_as(at) == ["**Your drawing as a 3**"]
    at.session_state["pad"] = {"drawing": {"png": None, "seq": 2, "final": True, "strokes": 0}}
    at.run()  # Clear
    at.session_state["pad"] = pad_state(canvas_image(7), seq=3)
    at.run()
    assert not at.exception, at.exception
    assert not _shown_as(at)
    assert set(_kinds(at).values()) == {"plain"}

    at.button(key="draw_cf_make_1").click().run()
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    assert not at.exception, at.exception
    assert not _shown_as(at), _shown_as(at)
    assert set(_kinds(at).values()) == {"plain"}


def test_without_a_prior_the_note_takes_the_edits_place_beside_the_twin():
    """fashion-cnn has no generative prior: its note sat in the first of three columns and
    the middle one was left empty (a user test); the note now spans two of three."""
    from tests.ui.test_app import canvas_image, pad_state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["pad"] = pad_state(canvas_image(7))
    at.run()
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    at.button(key="draw_cf_make_1").click().run()
    assert not at.exception, at.exception
    holding = [c for c in at.columns if any("generative prior" in i.value for i in c.info)]
    assert holding and holding[-1].weight == pytest.approx(2 / 3), [c.weight for c in holding]
