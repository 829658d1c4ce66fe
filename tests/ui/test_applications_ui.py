"""The app with a Keras Applications model: listed in the picker, Draw says it is for
digits, Upload shows the top-5 and the map over the photo, the Model page has no MNIST
confusion matrix; offline without weights the sidebar says where to put them.

ImageNet weights cannot be downloaded here: mobilenet_v2 reads a file of random weights
named by $DIGITLENS_WEIGHTS_MOBILENET_V2 (the mechanics, not accuracy).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> str:
    import keras

    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2.weights.h5"
    keras.applications.MobileNetV2(weights=None).save_weights(path)
    return str(path)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty Keras cache and no network: a download attempt fails at once."""
    from keras.src.utils import file_utils

    def refuse(*args, **kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_an_imagenet_model_on_every_page_that_takes_photos(random_weights, monkeypatch, offline):
    monkeypatch.setenv("DIGITLENS_WEIGHTS_MOBILENET_V2", random_weights)
    at = _app()
    picker = at.sidebar.selectbox(key="model_name")
    listed = {"mnist-cnn", "Your own .keras file"}
    listed |= {f"{n} (ImageNet)" for n in ("mobilenet_v2", "resnet50", "efficientnet_b0")}
    assert listed <= set(picker.options)
    picker.set_value("mobilenet_v2").run()
    assert not at.exception, at.exception
    assert "ImageNet" in "\n".join(c.value for c in at.sidebar.caption)
    assert "Drawing is for the 28x28 digit models" in _texts(at)  # the Draw page

    at.switch_page("app_pages/upload.py").run()
    buf = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(buf, "PNG")
    at.file_uploader(key="uploads").set_value([("photo.png", buf.getvalue(), "image/png")]).run()
    assert not at.exception, at.exception
    page = _texts(at)
    assert "class='dl-topk'" in page and "class='dl-hist'" not in page  # 5 bars, not 1,000

    at.switch_page("app_pages/model_card.py").run()
    assert not at.exception, at.exception
    assert "no confusion matrix" in _texts(at)


def test_offline_without_weights_the_sidebar_says_where_to_put_them(offline, monkeypatch):
    monkeypatch.delenv("DIGITLENS_WEIGHTS_RESNET50", raising=False)
    at = _app()
    at.sidebar.selectbox(key="model_name").set_value("resnet50").run()
    assert not at.exception, at.exception
    errors = "\n".join(e.value for e in at.sidebar.error)
    assert "not on this computer" in errors and str(offline) in errors
    assert "DIGITLENS_WEIGHTS_RESNET50" in errors and "reload the page" in errors
    # the command line's flag and the download's own error are not the app's words
    assert "--weights" not in errors and "no network here" not in errors, errors
    assert "mnist-cnn answers" in "\n".join(i.value for i in at.sidebar.info)
