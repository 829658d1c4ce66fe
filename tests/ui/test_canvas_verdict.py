"""What the Draw page's live reading is given to judge with: Python's rule and detector.

The browser's port of the rule is checked against Python in
tests/e2e/test_app_browser.py (`test_browser_verdicts_match_python`).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from model import load_classifier
from model.judge.verdict import (
    LOOP_INK,
    LOOP_MIN_AREA,
    POSTHOC_REJECT,
    POSTHOC_UNSURE,
    read_ood_card,
)
from ui import canvas


@pytest.fixture
def static(tmp_path, monkeypatch):
    """A fresh static folder for the published files (and a fresh publishing cache)."""
    monkeypatch.setattr(canvas, "MODELS_DIR", tmp_path / "models")
    canvas._published.cache_clear()
    yield tmp_path / "models"
    canvas._published.cache_clear()


def test_the_page_gets_the_detector_and_the_thresholds_python_uses(static, mnist_cnn):
    rule = canvas.verdict_rule(mnist_cnn)
    card = read_ood_card(mnist_cnn.artifact.keras_path)
    assert rule is not None and rule["method"] == "detector"
    got = (rule["unsure"], rule["reject"], rule["p_unsure"], rule["softmax_weight"])
    assert got == (card.unsure, card.reject, card.p_unsure, card.softmax_weight)
    assert (rule["loop_ink"], rule["loop_min_area"]) == (LOOP_INK, LOOP_MIN_AREA)
    # Published like the model: a content-addressed copy of the detector's ONNX file.
    data = (mnist_cnn.artifact.keras_path.with_name(card.file)).read_bytes()
    name = rule["detectorUrl"].removeprefix(canvas.STATIC_URL + "models/")
    assert name == f"mnist-cnn.ood-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
    assert (static / name).read_bytes() == data
    assert json.loads(json.dumps(rule)) == rule  # crosses to the page as JSON


def test_a_model_without_a_detector_gets_the_post_hoc_rule(static, undetected):
    rule = canvas.verdict_rule(undetected)
    assert rule is not None and rule["method"] == "max-softmax"
    assert (rule["unsure"], rule["reject"]) == (POSTHOC_UNSURE, POSTHOC_REJECT)
    assert "detectorUrl" not in rule and "softmax_weight" not in rule


def test_no_live_verdict_when_the_detector_cannot_be_published(tmp_path, monkeypatch, mnist_cnn):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(canvas, "MODELS_DIR", blocked / "models")
    canvas._published.cache_clear()
    try:
        assert canvas.verdict_rule(mnist_cnn) is None
    finally:
        canvas._published.cache_clear()


def _camera_data(monkeypatch, clf) -> tuple[bool, dict]:
    """(live_camera's answer, the data it hands the Camera page's component)."""
    from ui import camera

    sent: dict = {}
    monkeypatch.setattr(camera, "_component", lambda: lambda **kw: sent.update(kw["data"]))
    return camera.live_camera("camera", clf), sent


def test_the_camera_page_gets_the_same_rule_as_the_draw_page(static, monkeypatch, mnist_cnn):
    """The Camera page's readings are judged with the Draw pad's rule and size rule."""
    ok, data = _camera_data(monkeypatch, mnist_cnn)
    assert ok and data["modelUrl"] == canvas.model_url(mnist_cnn)
    assert data["verdict"] == canvas.verdict_rule(mnist_cnn)
    assert data["verdict"]["detectorUrl"].endswith(".onnx")
    assert data["tooSmall"] == canvas.size_rule()


def test_no_live_camera_without_a_verdict(static, monkeypatch, mnist_cnn):
    """A reading the page cannot judge is not shown: no model URL, and the page says so."""
    monkeypatch.setattr(canvas, "verdict_rule", lambda clf: None)
    ok, data = _camera_data(monkeypatch, mnist_cnn)
    assert not ok and data["modelUrl"] is None and data["verdict"] is None


def test_a_fashion_pad_gets_its_detector_and_no_pen_rules(static, monkeypatch):
    """fashion-cnn's pad: its own detector (no loop rule; "more like a digit, ..."), and a
    size rule without the pen's length-in-widths tests, as Python reads it."""
    sent: dict = {}
    monkeypatch.setattr(canvas, "_component", lambda: lambda **kw: sent.update(kw["data"]))
    canvas.drawing_pad("pad", load_classifier("fashion-cnn"))
    assert sent["recipe"] == "fashion" and sent["tooSmall"]["pen"] is False
    rule = sent["verdict"]
    assert rule["method"] == "detector" and rule["detectorUrl"].endswith(".onnx")
    assert rule["loop_penalty"] == 0.0 and rule["unlike"].startswith("a digit")
