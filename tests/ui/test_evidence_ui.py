"""The Evidence page: look-alikes with their credibility line, the atlas with the
input placed, and each layer's feature maps with the training patches of its filters."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model import load_classifier
from model.input.samples import drawn_digit
from tests.helpers import ROOT

#: They read the bundled models' evidence, built from the training sets.
pytestmark = pytest.mark.usefixtures("bundled_evidence")


def test_evidence_page_shows_look_alikes_atlas_and_layers():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("app_pages/evidence.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="evidence_example").set_value(7).run()
    assert not at.exception, at.exception
    # The Layers tab opens on the first layer with readable patches (conv1's are 3x3)
    assert at.selectbox(key="evidence_layer_mnist-cnn").value == "conv2_1"
    page = "\n".join(str(m.value) for m in at.markdown)
    want = load_classifier("mnist-cnn").neighbours(drawn_digit(7), k=8)
    assert want.summary in page
    for n in want:  # each look-alike's caption: training position and label
        assert f"#{n.index} · {n.label}" in page
    assert len(at.get("vega_lite_chart")) == 1  # the atlas
    assert "black diamond" in "\n".join(c.value for c in at.caption)
    at.selectbox(key="evidence_layer_mnist-cnn").set_value("conv3_1").run()
    assert not at.exception, at.exception
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "conv3_1: 64 maps of 7x7" in page and "**filter " in page
    at.selectbox(key="evidence_layer_mnist-cnn").set_value("fc2").run()
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "fc2: 128 values" in page
    # A dense layer has no patches: the caption names the layers that do (it said they
    # were "built for the bundled CNN's convolutions only", on the bundled CNN).
    captions = "\n".join(c.value for c in at.caption)
    assert "shown for the convolution layers: conv1, " in captions, captions
    # The output layer: one bar per class, named (ten scores drawn as a 4x4 grid of cells,
    # six of them padding that looked like zeros).
    charts = len(at.get("vega_lite_chart"))
    at.selectbox(key="evidence_layer_mnist-cnn").set_value("output").run()
    assert len(at.get("vega_lite_chart")) == charts + 1
    assert "output: 10 values, one per class" in "\n".join(c.value for c in at.caption)


def test_each_model_keeps_its_own_layer():
    """conv3_1 chosen for mnist-cnn is still chosen after a visit to mnist-mlp, whose
    layers are others (one box for both fell back to the first layer)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("app_pages/evidence.py").run()
    at.selectbox(key="evidence_layer_mnist-cnn").set_value("conv3_1").run()
    at.sidebar.selectbox(key="model_name").set_value("mnist-mlp").run()
    assert not at.exception, at.exception
    at.sidebar.selectbox(key="model_name").set_value("mnist-cnn").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="evidence_layer_mnist-cnn").value == "conv3_1"
    assert "conv3_1: 64 maps of 7x7" in "\n".join(str(m.value) for m in at.markdown)
    for t in threading.enumerate():  # (as below: the new models' warm-up timers)
        if isinstance(t, threading.Timer):
            t.join(120)


def test_evidence_page_for_the_mlp_and_the_fashion_model():
    """No conv layers (mnist-mlp): the layer view shows dense cells, no patches; a
    fashion model's look-alikes come from its own training subset."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("app_pages/evidence.py").run()
    at.sidebar.selectbox(key="model_name").set_value("mnist-mlp").run()
    assert not at.exception, at.exception
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "look-alikes are" in page and "**filter " not in page
    at.sidebar.selectbox(key="model_name").set_value("fashion-cnn").run()
    assert not at.exception, at.exception
    # Its own test images first: the digit example it showed is no item it knows.
    assert at.radio(key="evidence_source").value == "Test-set image"
    at.radio(key="evidence_source").set_value("Example drawing").run()
    captions = "\n".join(c.value for c in at.caption)
    assert "fashion-mnist training set (10,000 examples" in captions
    page = "\n".join(str(m.value) for m in at.markdown)  # look-alikes named, not numbered
    assert re.search(r"#\d+ · [A-Z][A-Za-z/ -]+( ✗)? · d ", page), page[:2000]
    # The example is a digit, which fashion-cnn does not know: its look-alikes' agreement
    # is no approval (a green ✓ said "6 of 8 look-alikes are Pullovers", a user test).
    assert "Not something this model knows" in page
    line = next(m.value for m in at.markdown if "look-alikes are" in str(m.value))
    assert "✓" not in line and "does not take the input for a Fashion-MNIST item" in line, line
    # Each newly loaded model warms its explanations up in a timer thread a few seconds
    # later (ui/resources.py); TensorFlow aborts the process if that runs during exit.
    for t in threading.enumerate():
        if isinstance(t, threading.Timer):
            t.join(120)


def test_a_long_vector_marks_the_cells_past_its_end():
    from ui.evidence import PAD_RGB, vector_image

    tile = vector_image(np.array([0.0, 1.0, 0.25], np.float32))  # 2x2, one past the end
    assert tile.reshape(4, 3).tolist() == [[0] * 3, [255] * 3, [64] * 3, list(PAD_RGB)]
