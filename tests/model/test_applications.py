"""Keras Applications by name, offline: names, scalings, weights lookup, class names, photos.

Real ImageNet weights cannot be downloaded here, so these tests prove the mechanics
with random weights (`weights=None`) and tiny inputs; nothing touches the network.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.errors import ModelLoadError
from model.input.photo import SCALINGS, canonical_scaling, prepare_photo, scale
from model.runtime.applications import (
    NAMED,
    application,
    build_application,
    imagenet_class_names,
    is_application,
    keras_cache_dir,
    locate_weights,
    weights_env,
)


@pytest.mark.parametrize(("mode", "ours"), [("caffe", "caffe"), ("tf", "-1-1"), ("torch", "torch")])
def test_scaling_matches_keras_preprocess_input(mode, ours):
    from keras.applications import imagenet_utils

    rgb = np.random.default_rng(0).integers(0, 256, (2, 5, 4, 3)).astype(np.float32)
    expected = imagenet_utils.preprocess_input(rgb.copy(), mode=mode)
    np.testing.assert_allclose(scale(rgb, ours), np.asarray(expected), rtol=1e-5, atol=1e-4)


def test_scaling_names_and_keras_modes():
    assert canonical_scaling("tf") == "-1-1"
    assert canonical_scaling("none") == "0-255"
    assert canonical_scaling("0-1") == "0-1"
    with pytest.raises(ValueError, match="unknown input scaling"):
        canonical_scaling("zscore")
    x = np.full((1, 1, 3), 255.0)
    assert {s: float(scale(x, s).max()) for s in ("0-1", "0-255", "-1-1")} == {
        "0-1": 1.0,
        "0-255": 255.0,
        "-1-1": 1.0,
    }
    assert set(SCALINGS) >= {"caffe", "torch"}


def test_named_models_have_their_family_scaling():
    assert application("mobilenet_v2").scaling == "-1-1"
    assert application("ResNet50").scaling == "caffe"
    assert application("efficientnet_b0").scaling == "0-255"
    assert application("EfficientNetB0") == NAMED["efficientnet_b0"]


def test_any_other_keras_application_by_name():
    vgg = application("vgg16")
    assert (vgg.constructor, vgg.scaling, vgg.input_size) == ("VGG16", "caffe", 224)
    inception = application("inception_v3")
    assert (inception.constructor, inception.scaling, inception.input_size) == (
        "InceptionV3",
        "-1-1",
        299,
    )
    assert application("DenseNet121").scaling == "torch"
    assert is_application("mobilenet_v2") and is_application("MobileNetV3Small")
    assert not is_application("mnist-cnn") and not is_application("my/model.keras")
    with pytest.raises(ModelLoadError, match="not a Keras Applications model"):
        application("resnet51")


@pytest.mark.parametrize("name", list(NAMED))
def test_each_named_family_builds_and_predicts_1000_classes(name):
    net, app = build_application(name, weights=None, input_shape=(32, 32, 3))
    photo = prepare_photo(_photo_png(), (32, 32), 3, app.scaling)
    probs = np.asarray(net(photo.x[None], training=False))
    assert probs.shape == (1, 1000)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-4)


def test_offline_without_weights_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError) as err:
        build_application("resnet50", download=False)
    text = str(err.value)
    assert str(tmp_path / "models" / NAMED["resnet50"].weights_file) in text
    assert weights_env(NAMED["resnet50"]) in text and "--weights" in text


def test_weights_are_found_in_the_keras_cache_or_named_by_env(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    app = NAMED["mobilenet_v2"]
    assert locate_weights(app) == "imagenet"  # nothing cached: Keras would download
    cached = keras_cache_dir() / app.weights_file
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"h5")
    assert locate_weights(app) == str(cached)
    own = tmp_path / "mine.h5"
    own.write_bytes(b"h5")
    monkeypatch.setenv(weights_env(app), str(own))
    assert locate_weights(app) == str(own)
    with pytest.raises(ModelLoadError, match="no weights file"):
        locate_weights(app, tmp_path / "missing.h5")


def test_imagenet_class_names_ship_with_the_project():
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) >= 998  # two ImageNet names repeat
    assert (names[0], names[1], names[999]) == ("tench", "goldfish", "toilet tissue")


def _photo_png(mode: str = "RGBA") -> bytes:
    img = Image.new(mode, (90, 60), (255, 255, 255, 0) if mode == "RGBA" else 255)
    img.paste((200, 30, 30, 255) if mode == "RGBA" else 40, (30, 10, 70, 50))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_photo_input_sizes_channels_and_projection():
    rgb = prepare_photo(_photo_png(), (24, 32), 3, "0-1")
    assert rgb.x.shape == (24, 32, 3) and rgb.x.dtype == np.float32
    assert rgb.x.min() >= 0.0 and rgb.x.max() <= 1.0
    assert rgb.original.shape == (60, 90, 3)  # transparency over white
    assert tuple(rgb.original[0, 0]) == (255, 255, 255)
    hm = np.zeros((24, 32), np.float32)
    hm[:, 16:] = 1.0
    back = rgb.project_back(hm)
    assert back.shape == (60, 90) and back[:, -1].min() == 1.0 and back[:, 0].max() == 0.0
    grey = prepare_photo(_photo_png("L"), (16, 16), 1, "-1-1")
    assert grey.x.shape == (16, 16, 1) and grey.x.min() >= -1.0 and grey.x.max() <= 1.0
    caffe = prepare_photo(_photo_png(), (8, 8), 3, "caffe")
    red = caffe.resized[4, 4]  # the red patch: caffe puts blue first
    assert red[0] > red[2] and caffe.x[4, 4, 2] > caffe.x[4, 4, 0]
