"""The Upload page shows each file's verdict: a large digit only when it is one."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT, drawn_digit


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def pen_x() -> Image.Image:
    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 60), (200, 220)], fill=255, width=18)
    d.line([(200, 60), (80, 220)], fill=255, width=18)
    return img


def test_upload_shows_verdicts_in_words_and_no_certain_percentages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/upload.py").run()
    dot = Image.new("L", (280, 280))
    ImageDraw.Draw(dot).ellipse((130, 130, 148, 148), fill=255)
    at.file_uploader(key="uploads").set_value(
        [
            ("seven.png", png(drawn_digit(7)), "image/png"),
            ("x.png", png(pen_x()), "image/png"),
            ("dot.png", png(dot), "image/png"),
            ("white.png", png(Image.new("L", (280, 280), 255)), "image/png"),
        ]
    ).run()
    assert not at.exception, at.exception
    page = "\n".join(str(m.value) for m in at.markdown)
    assert page.count("class='dl-label'") == 1  # the large digit: only the 7
    assert "dl-label'>7<" in page and "Not a digit" in page and "runner-up" in page
    assert "100.0 %" not in page and "100%" not in page.replace("width:100%", "")
    errors = "\n".join(e.value for e in at.error)
    assert "dot.png" in errors and "too small to read" in errors
    # each refusal said once ("white.png looks blank: the image looks blank" said it twice)
    assert "**white.png**: the image looks blank" in errors, errors
    assert errors.count("looks blank") == 1 and errors.count("too small to read") == 1, errors
    table = at.dataframe[0].value
    assert list(table["verdict"][:2]) == ["digit", "not a digit"]
    assert table["reason"][0] == "" and table["error"][0] == ""  # no grey "None" shown
    at.toggle(key="upload_log_scale").set_value(True).run()
    assert "log scale" in "\n".join(str(m.value) for m in at.markdown)


def test_upload_words_a_fashion_models_verdict_as_its_own():
    """A Sandal's row said verdict "digit"."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key="uploads").set_value(
        [("seven.png", png(drawn_digit(7)), "image/png")]
    ).run()
    assert not at.exception, at.exception
    verdicts = list(at.dataframe[0].value["verdict"])
    assert verdicts and not {"digit", "not a digit", "not_a_digit"} & set(verdicts), verdicts


def test_upload_says_when_only_the_first_frame_of_an_animation_is_read():
    """An animated GIF (a 1, then a 7) was read as its first frame without a word."""
    import io

    one, seven = drawn_digit(1).convert("P"), drawn_digit(7).convert("P")
    buf = io.BytesIO()
    one.save(buf, "GIF", save_all=True, append_images=[seven], duration=200)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key="uploads").set_value([("anim.gif", buf.getvalue(), "image/gif")]).run()
    assert not at.exception, at.exception
    notes = "\n".join(i.value for i in at.info)
    assert "**anim.gif** holds 2 frames or pages: only the first is read." in notes, notes


def test_explain_says_an_uploaded_number_is_one_and_where_to_read_it():
    """An upload of "741" on the Explain page was "not a digit, closest: ..." with no word
    that it holds a number (the Upload page said so)."""
    from tests.ui.test_number_ui import canvas_number

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/explain.py").run()
    at.radio(key="explain_source").set_value("Upload").run()
    at.file_uploader(key="explain_upload").set_value(
        [("741.png", png(canvas_number(7, 4, 1)), "image/png")]
    ).run()
    assert not at.exception, at.exception
    notes = "\n".join(i.value for i in at.info)
    assert "This looks like 3 digits (741)" in notes and "Read numbers" in notes, notes


def test_a_fashion_model_is_never_asked_for_a_digit(monkeypatch, real_data_dir):
    """With fashion-cnn, the pages ask for its own kind of image (a helper session found
    "Draw a digit", "Test digit #", a digit example opening Explain and Evidence, and the
    Draw page inviting a drawing it would not know)."""
    monkeypatch.setenv("DIGITLENS_DATA_DIR", str(real_data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    said = lambda: " ".join(  # noqa: E731
        str(e.value) for kind in (at.info, at.caption, at.markdown) for e in kind
    )
    assert "not from drawings" in said() and "Draw a Fashion-MNIST item on" in said()
    for page, key in (("explain", "explain_source"), ("evidence", "evidence_source")):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, at.exception
        assert at.radio(key=key).value == "Test-set image"  # its own images first
        assert "digit" not in " ".join(str(e.value) for e in at.info), page
    assert at.number_input[0].label == "Test image #"


def test_compare_two_models_says_each_models_verdict():
    """Explain's comparison: fashion-cnn "read" the example 7 as a Sandal (99.8 %) with no
    word that it does not know digits; each model's line now carries its verdict."""
    import re

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/explain.py").run()
    at.selectbox(key="compare_with").set_value("fashion-cnn").run()
    assert not at.exception, at.exception
    page = "\n".join(str(m.value) for m in at.markdown)
    words = "sure|unsure|not one it knows"
    assert re.search(rf"\*\*fashion-cnn\*\* reads \*\*[^*]+\*\* \([^)]*%, ({words})\)", page)
    assert re.search(r"\*\*mnist-cnn\*\* reads \*\*7\*\* \([^)]*%, digit\)", page), page[-3000:]


def test_a_chart_names_a_models_classes_whole(monkeypatch):
    """The Upload page's and the counterfactual's bars cut fashion-cnn's names to "T-shi.",
    "Trous.", "Ankle." (a user test): they are whole, set upright in a taller chart."""
    import numpy as np

    import ui.widgets as widgets
    from model.prediction import Prediction

    shown: list[str] = []
    monkeypatch.setattr(widgets.st, "markdown", lambda body, **_: shown.append(body))
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot")  # fmt: skip
    p = np.full(10, 0.01, np.float32)
    p[9] = 0.91
    pred = Prediction(9, 0.91, p, "Ankle boot", "digit", 0.0, None)
    widgets.probability_chart(pred, names, height=180)
    html = shown[-1]
    assert all(f"<div class='dl-name'>{n}</div>" in html for n in names), html
    assert "dl-hist-words" in html and f"height:{180 + widgets.NAMES_HEIGHT}px" in html
    widgets.probability_chart(pred, tuple(map(str, range(10))), height=180)
    assert "dl-hist-words" not in shown[-1] and "height:180px" in shown[-1]  # digits: as before
