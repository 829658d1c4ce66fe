"""Any Keras image classifier through the whole pipeline, offline.

Real ImageNet weights cannot be downloaded here: the Keras Applications run with
random weights (`weights=None`) at tiny input sizes, which proves the mechanics
(load -> preprocess -> predict -> top-k -> every explanation -> overlay), not ImageNet
accuracy. A small RGB classifier trained here on shapes on noise checks that the
default map points at the object.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from benchmarks.any_classifier import shapes_on_noise
from model import ModelLoadError, load_classifier
from model.errors import PreprocessingMismatchError
from model.input.photo import PhotoInput, scale
from model.prediction import Prediction, top_k
from model.why.attribution import METHODS, available_methods, default_method
from model.why.report import report
from tests.helpers import drawn_digit

TINY = (32, 32, 3)
#: The scaling each named family must get (Keras' preprocess_input mode, in our names).
FAMILY_SCALING = {"mobilenet_v2": "-1-1", "resnet50": "caffe", "efficientnet_b0": "0-255"}


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def _photo(h: int = 45, w: int = 60) -> bytes:
    """A photo bigger than the model input (so the map must be projected back)."""
    rng = np.random.default_rng(1)
    return _png(rng.integers(0, 256, (h, w, 3)).astype(np.uint8))


@pytest.mark.parametrize("name", list(FAMILY_SCALING))
def test_each_family_goes_through_the_whole_pipeline(name):
    clf = load_classifier(name, weights=None, input_shape=TINY)
    assert (clf.input_shape, clf.num_classes) == (TINY, 1000)
    assert clf.preprocessing == FAMILY_SCALING[name] and clf.perturbation == "mean"
    assert clf.class_names[:2] == ("tench", "goldfish")
    assert clf.runtime.name == "tf.function"

    stages = clf.preprocess_stages(_photo())
    assert isinstance(stages, PhotoInput) and stages.x.shape == TINY
    np.testing.assert_allclose(stages.x, scale(stages.resized, FAMILY_SCALING[name]))

    pred = clf.predict(_photo())
    top = clf.top(pred)
    assert len(top) == 5 and top[0].label == pred.label
    assert [t.probability for t in top] == sorted((t.probability for t in top), reverse=True)
    assert top[0].class_name == clf.class_names[pred.label]

    # The default layer is a real layer of the network with a map bigger than 1x1.
    assert clf.default_layer in clf.conv_layers and len(clf.conv_layers) > 5
    methods = available_methods(clf)
    assert methods == list(METHODS)
    for method in methods:
        r = report(clf, stages, method=method)
        e = r.explanation
        assert e.heatmap.shape == TINY[:2], method
        assert np.isfinite(e.heatmap).all() and 0.0 <= e.heatmap.min() <= e.heatmap.max() <= 1
        assert r.overlay.shape == (45, 60, 3), method  # the photo at full size
        assert r.trust.perturbation == "mean"


def test_top_k_orders_classes_and_names_them():
    p = np.array([0.1, 0.5, 0.05, 0.3, 0.05], np.float32)
    pred = Prediction(1, 0.5, p, "b")
    assert [t.label for t in pred.top(3)] == [1, 3, 0]
    assert [t.class_name for t in top_k(p, 2, "abcde")] == ["b", "d"]
    assert len(pred.top(50)) == 5
    with pytest.raises(ValueError):
        top_k(p, 0)


def _shapes_classifier(tmp_path, card: dict | None = None):
    """A small RGB CNN trained for a few seconds on shapes on noise, saved as a
    Sequential `.keras` file and loaded back through `load_classifier`."""
    from benchmarks.any_classifier import train_shapes_net

    path = train_shapes_net(tmp_path)
    if card is not None:
        path.with_suffix(".json").write_text(json.dumps(card))
    return load_classifier(path)


@pytest.fixture(scope="module")
def shapes_clf(tmp_path_factory):
    return _shapes_classifier(tmp_path_factory.mktemp("shapes"))


#: Share of maps whose peak must lie on the object (issue #21: the chosen default's goal).
POINTING_GOAL = 0.8


def test_own_sequential_model_reloaded_from_disk_points_at_the_object(shapes_clf):
    """No card: the default is chosen by the trust score on the first inputs the model
    explains (model.why.choice); that default must point at the object."""
    from model.why.choice import CHOICE_INPUTS
    from model.why.defaults import measured

    clf = load_classifier(shapes_clf.artifact.keras_path)  # its own object: its own choice
    # No card: RGB in [0, 1] at the model's size; before any input, the fixed fallback.
    assert clf.preprocessing == "0-1" and clf.class_names == ("0", "1", "2")
    assert clf.conv_layers == ("c1", "c2", "pool", "c3")
    assert default_method(clf) == ("gradcam", "c3")
    first, _, _ = shapes_on_noise(CHOICE_INPUTS, 32, seed=21)
    for img in first:
        report(clf, _png(img))  # the first inputs it sees
    chosen = measured(clf)
    assert chosen is not None and chosen.final and default_method(clf)[0] == chosen.method
    images, labels, boxes = shapes_on_noise(30, 32, seed=7)
    hits = correct = 0
    scores = []
    for img, label, (y0, y1, x0, x1) in zip(images, labels, boxes, strict=True):
        r = report(clf, _png(img))
        e = r.explanation
        assert e.method == chosen.method
        scores.append(r.trust.score)
        correct += e.label == label
        py, px = np.unravel_index(np.argmax(e.heatmap), e.heatmap.shape)
        hits += (y0 - 1 <= py <= y1) and (x0 - 1 <= px <= x1)
    print(
        f"\nshapes CNN, default {chosen.method} ({chosen.reason}): pointing game "
        f"{hits}/{len(images)} = {hits / len(images):.2f}, mean trust {np.mean(scores):+.2f}"
    )
    assert correct >= 24, f"the classifier did not learn the task ({correct}/30)"
    assert hits >= POINTING_GOAL * len(images), (
        f"the default map's peak is on the object in only {hits}/30 images"
    )
    # Mean-colour deletion: removing what the map ranks first hurts the answer more than
    # removing the photo's own detail (its contrast or edges) or random pixels.
    assert np.mean(scores) > 0.1, f"mean trust {np.mean(scores):+.2f}"


def test_every_method_explains_a_reloaded_sequential_model(shapes_clf):
    img = shapes_on_noise(1, 32, seed=3)[0][0]
    for method in available_methods(shapes_clf):
        for layer in (None, "c1") if METHODS[method].needs_conv else (None,):
            e = report(shapes_clf, _png(img), method=method, layer=layer).explanation
            assert e.heatmap.shape == (32, 32) and e.heatmap.max() > 0, (method, layer)


def test_a_backbone_inside_a_model_is_explained_at_any_depth():
    import keras
    import tensorflow as tf

    from model.why.attribution import passes_for

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(64, 64, 3), alpha=0.35
    )
    inp = keras.Input((64, 64, 3))
    out = keras.layers.Dense(4, activation="softmax", name="head")(
        keras.layers.GlobalAveragePooling2D(name="gap")(base(inp))
    )
    net = keras.Model(inp, out)
    from model.classifier import Classifier
    from model.runtime.artifacts import Artifact, Card
    from model.runtime.runtimes import KerasRuntime

    clf = Classifier(Artifact("nested", base.name, Card()), net, KerasRuntime(net), "-1-1")
    assert "block_1_expand" in clf.conv_layers and base.name in clf.conv_layers
    assert clf.default_layer == "out_relu"  # the backbone's last 2x2 map
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    # The recorded map is the inner layer's own output (what Model(...) cannot give).
    _, fmap, grads = passes_for(net).gradients(x, np.array([0, 1]), None, "block_3_project")
    inner = keras.Model(base.inputs, base.get_layer("block_3_project").output)
    np.testing.assert_allclose(fmap, np.asarray(inner(x)), rtol=1e-4, atol=1e-4)
    assert fmap.shape == grads.shape and np.abs(grads).sum() > 0
    # ... and its gradient is the true one, checked against a plain tape on the same graph.
    with tf.GradientTape() as tape:
        feats = inner(x)
        tape.watch(feats)
        rest = keras.Model(base.get_layer("block_3_project").output, base.output)
        logits = net.get_layer("head").kernel
        z = tf.matmul(net.get_layer("gap")(rest(feats)), logits) + net.get_layer("head").bias
        score = tf.gather(z, [0, 1], batch_dims=1)
    np.testing.assert_allclose(grads, tape.gradient(score, feats).numpy(), rtol=1e-3, atol=1e-5)
    for method in available_methods(clf):
        e = report(clf, x[0], method=method).explanation
        assert e.heatmap.shape == (64, 64), method


def test_own_model_states_its_scaling_in_its_card_or_by_choice(tmp_path):
    import keras

    net = keras.Sequential(
        [keras.Input((20, 24, 3)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")]
    )
    net.save(tmp_path / "own.keras")
    grey = keras.Sequential(
        [keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(2, "softmax")]
    )
    grey.save(tmp_path / "grey.keras")
    photo = _photo()
    assert load_classifier(tmp_path / "own.keras").preprocess(photo).max() <= 1.0
    x = load_classifier(tmp_path / "grey.keras").preprocess(photo)
    assert x.shape == (16, 16, 1) and x.min() >= 0.0 and x.max() <= 1.0
    (tmp_path / "own.json").write_text(
        json.dumps({"class_names": ["cat", "dog", "owl"], "preprocessing": {"scaling": "tf"}})
    )
    clf = load_classifier(tmp_path / "own.keras")
    assert clf.preprocessing == "-1-1" and clf.class_names == ("cat", "dog", "owl")
    assert clf.preprocess(photo).shape == (20, 24, 3) and clf.preprocess(photo).min() < 0
    chosen = load_classifier(tmp_path / "own.keras", preprocessing="caffe")
    stages = chosen.preprocess_stages(photo)
    np.testing.assert_allclose(stages.x, scale(stages.resized, "caffe"))
    with pytest.raises(ModelLoadError, match="unknown preprocessing") as refused:
        load_classifier(tmp_path / "own.keras", preprocessing="zscore")
    assert str(refused.value).count("caffe") == 1  # each choice named once (they repeated)
    # The digit models keep their recipe: nothing about them changed.
    digits = load_classifier("mnist-cnn")
    assert digits.preprocessing == "mnist" and digits.perturbation == "zero"
    assert digits.preprocess(drawn_digit(7)).shape == (28, 28)  # (a noise photo: refused)


def test_a_digit_recipe_for_a_model_of_another_shape_is_refused_at_load(tmp_path):
    import keras

    for shape in ((32, 32, 1), (28, 28, 3)):
        net = keras.Sequential(
            [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
        )
        path = tmp_path / f"own-{shape[0]}-{shape[2]}.keras"
        net.save(path)
        # (it failed at its first image: "cannot reshape array of size 784 into shape ...")
        with pytest.raises(PreprocessingMismatchError, match="28x28 grey input") as refused:
            load_classifier(path, preprocessing="mnist")
        assert "x".join(map(str, shape)) in str(refused.value) and "0-1" in str(refused.value)
        # Without the override the same file loads, on the photo path, at its own size.
        assert load_classifier(path).preprocess(_photo()).shape == shape
    assert load_classifier("mnist-cnn", preprocessing="fashion").preprocessing == "fashion"
    with pytest.raises(PreprocessingMismatchError, match="32x32x3"):  # a Keras Application
        load_classifier(
            "mobilenet_v2",
            preprocessing="fashion",
            weights=None,
            input_shape=(32, 32, 3),
            download=False,
        )


def test_offline_without_weights_is_a_clear_error_without_touching_the_network(
    tmp_path, monkeypatch
):
    from keras.src.utils import file_utils  # what keras.applications download through

    calls = []
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: calls.append(a) or 1 / 0)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="not on this machine") as err:
        load_classifier("mobilenet_v2", download=False)
    assert str(tmp_path / "models") in str(err.value)
    assert calls == [] and "download failed" not in str(err.value)
    with pytest.raises(ModelLoadError, match="Keras only"):
        load_classifier("resnet50", runtime="onnx")


def test_a_failed_download_is_said_in_whole_words(tmp_path, monkeypatch):
    """The download's own words were cut at 160 characters, mid-word ("[Errno -2] Name)");
    the advice named --weights, which the server does not have (a user test)."""
    from keras.src.utils import file_utils

    words = "URL fetch failure on https://example.org/x.h5: None -- [Errno -2] Name or service "
    words += "not known " * 20

    def offline(*args, **kwargs):
        raise OSError(words)

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError) as err:
        load_classifier("mobilenet_v2", download=True)
    said = str(err.value)
    assert "(the download failed: URL fetch failure on" in said and said.endswith(" ...)")
    assert said.removesuffix(" ...)").split()[-1] in ("not", "known")  # (whole words)
    assert "$DIGITLENS_WEIGHTS_MOBILENET_V2 (the command line's --weights PATH)" in said


def test_a_download_says_so_on_stderr_not_stdout(tmp_path, monkeypatch, capsys):
    """Keras' "Downloading data from ..." landed on stdout, in `predict --json`'s lines
    (a user test): it goes to stderr."""
    from keras.src.utils import file_utils, io_utils

    def download(fname, origin, *args, **kwargs):
        io_utils.print_msg(f"Downloading data from {origin}")  # (Keras' own words and call)
        raise OSError("URL fetch failure: offline")

    monkeypatch.setattr(file_utils, "get_file", download)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="download failed"):
        load_classifier("mobilenet_v2", download=True)
    out, err = capsys.readouterr()
    assert "Downloading data from" not in out and "Downloading data from" in err


def test_cli_reads_any_model_with_its_scaling_and_top_k(tmp_path, capsys):
    import keras

    from model.predict import main

    net = keras.Sequential(
        [keras.Input((12, 12, 3)), keras.layers.Flatten(), keras.layers.Dense(12, "softmax")]
    )
    net.save(tmp_path / "rgb12.keras")
    (tmp_path / "photo.png").write_bytes(_photo())
    args = [str(tmp_path / "photo.png"), "--model", str(tmp_path / "rgb12.keras"), "--quiet"]
    assert main([*args, "--json", "--top-k", "3", "--preprocessing", "caffe"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["probabilities"]) == 12 and len(record["top_k"]) == 3
    assert record["top_k"][0]["label"] == record["label"]
    assert main(args) == 0  # plain text: 12 classes, so a top-5 line too
    assert "top-5:" in capsys.readouterr().out
    assert main([*args[:1], "--model", "resnet50", "--weights", str(tmp_path / "no.h5")]) == 2
    assert "no weights file" in capsys.readouterr().err


def test_sanity_check_on_photos_reads_where_the_photo_has_detail(shapes_clf):
    from model.why.sanity import detail_mask, sanity_check

    images, labels, _ = shapes_on_noise(4, 32, seed=11)
    x = images.astype(np.float32) / 255.0
    mask = detail_mask(x)
    assert mask.shape == (4, 32, 32) and 0.3 < mask.mean() < 0.7
    (r,) = sanity_check(shapes_clf.net, x, labels, [("gradcam", "c3")], photo=True)
    # Randomising every layer must change a faithful map: low rank correlation.
    assert r.passed and [step[0] for step in r.cascade] == ["out", "c3", "c2", "c1"]


def test_a_whole_model_nested_in_another_is_explained_on_its_logits(shapes_clf):
    import keras

    from model.why.attribution import compute_maps

    outer = keras.Sequential([keras.Input((32, 32, 3)), shapes_clf.net])
    x = shapes_on_noise(3, 32, seed=5)[0].astype(np.float32) / 255.0
    target = np.array([0, 1, 2])
    for method, layer in (("gradcam", "c3"), ("saliency", None)):
        inner = compute_maps(shapes_clf.net, x, method, layer, target)
        np.testing.assert_allclose(compute_maps(outer, x, method, layer, target), inner, atol=1e-5)


def test_one_file_is_one_network_for_every_runtime_until_it_changes(tmp_path):
    """Every classifier of one `.keras` file shares its network, and with it the compiled
    maps and edits: the app's runtime switch loaded the file and traced them all again
    (1.2 s to a variant's first map and edit, 0.09 s shared). A file rewritten since is
    loaded afresh."""
    from tests.model.test_explain import tiny_model

    path = tmp_path / "tiny.keras"
    tiny_model(seed=0).save(path)
    a = load_classifier(str(path))
    b = load_classifier(str(path), runtime="keras")
    assert a.net is b.net
    weights = [w.copy() for w in a.net.get_weights()]
    tiny_model(seed=1).save(path)  # (new weights: another network)
    c = load_classifier(str(path))
    assert c.net is not a.net
    assert any(not np.array_equal(w, v) for w, v in zip(weights, c.net.get_weights(), strict=True))


def _logits_and_two_inputs(tmp_path):
    """Two models DigitLens cannot answer with: one that ends in logits, one that takes
    an image and a vector."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = layers.Flatten()(layers.Conv2D(4, 3, activation="relu", name="feat")(inp))
    logits = tmp_path / "logits.keras"
    keras.Model(inp, layers.Dense(10, name="logits")(x)).save(logits)
    vec = keras.Input((4,))
    joined = layers.Concatenate()([x, vec])
    two = tmp_path / "two_inputs.keras"
    keras.Model([inp, vec], layers.Dense(10, activation="softmax")(joined)).save(two)
    return logits, two


def test_a_model_of_logits_or_of_two_inputs_is_refused_at_load_in_words(tmp_path):
    """A user test: logits were reported as probabilities ("7 (> 99.9 %)", probability
    4.21, verdict `digit`), and a model of two inputs loaded, then failed at its first image
    with Keras' traceback. Both are now refused at load, saying what to do; the same
    layers ending in a softmax load."""
    import keras

    logits, two = _logits_and_two_inputs(tmp_path)
    with pytest.raises(ModelLoadError, match="not class probabilities") as said:
        load_classifier(str(logits))
    assert "keras.layers.Softmax()" in str(said.value) and str(tmp_path) not in str(said.value)
    # the sums' span in words: "sum to 0-0.837" read as a subtraction (a user test)
    number = r"-?\d+(\.\d+)?(e[+-]?\d+)?"
    assert re.search(rf"sum to ({number}|from {number} to {number})\)", str(said.value))
    with pytest.raises(ModelLoadError, match="takes 2 inputs and returns 1 outputs"):
        load_classifier(str(two))
    net = keras.models.load_model(logits)
    fixed = tmp_path / "fixed.keras"
    keras.Model(net.inputs, keras.layers.Softmax()(net.outputs[0])).save(fixed)
    assert load_classifier(str(fixed)).predict(drawn_digit(7)).probability <= 1.0


def test_a_digit_model_that_rescales_0_255_inside_reads_the_digit_recipe(tmp_path):
    """A digit model trained on 0..255 with `Rescaling(1/255)` as its first layer read the
    digit recipe's 0..1 as nearly black: a clear 7 was "1 (19.6 %)" (a user test). Its
    first layer now takes the recipe's 0..1 scaled by 255, and says so; its maps work; a
    photo scaling chosen by hand is left as it is. Made here from the bundled network
    behind a Rescaling, so it must read exactly as the bundled model does."""
    import keras

    from model.runtime.artifacts import load_keras_model
    from model.runtime.artifacts import resolve as resolve_model

    base = load_keras_model(resolve_model("mnist-cnn").keras_path)
    inp = keras.Input((28, 28, 1))
    keras.Model(inp, base(keras.layers.Rescaling(1 / 255)(inp))).save(tmp_path / "d255.keras")
    clf = load_classifier(tmp_path / "d255.keras")
    bundled = load_classifier("mnist-cnn", runtime="keras")
    for digit in (7, 4, 0):
        image = drawn_digit(digit)
        got, want = clf.predict(image), bundled.predict(image)
        assert got.label == want.label == digit
        np.testing.assert_allclose(got.probabilities, want.probabilities, atol=1e-5)
    assert "Rescaling(scale=0.00392157" in clf.input_note and "0..255" in clf.input_note
    seven = drawn_digit(7)
    got = report(clf, clf.preprocess_stages(seven), method="gradcam").explanation
    want = report(bundled, bundled.preprocess_stages(seven), method="gradcam").explanation
    assert got.label == 7 and got.heatmap.max() > 0
    np.testing.assert_allclose(got.heatmap, want.heatmap, atol=1e-4)
    photo = load_classifier(tmp_path / "d255.keras", preprocessing="0-255")
    assert photo.input_note is None and not photo.is_digit

    # Its ONNX export (the documented way to speed a model up) takes 0..1 as well: made
    # from the file as it was, it read the 7 as "1 (> 99.9 %)".
    from model.runtime.export import export_onnx

    export_onnx(tmp_path / "d255.keras")
    fast = load_classifier(tmp_path / "d255.keras")
    assert fast.runtime.name == "onnxruntime" and fast.input_note == clf.input_note
    got = fast.predict(seven)
    assert got.label == 7
    np.testing.assert_allclose(got.probabilities, bundled.predict(seven).probabilities, atol=1e-5)
    onnx_map = report(fast, fast.preprocess_stages(seven), method="gradcam").explanation
    np.testing.assert_allclose(onnx_map.heatmap, want.heatmap, atol=1e-4)  # (its lazy net)


def test_a_rescaling_sequential_models_layers_are_read_as_they_are_answered(tmp_path):
    """The adapted network of a Sequential 0..255 model shared its layers with the loaded
    one, so a layer's output belonged to two graphs: every layer's output (the Layers
    view, the look-alike features, `python -m training.evidence`) failed with "The name
    input_layer is used 2 times in the model" (a user test). Its layers are copies."""
    import keras

    from model.why.layers import activations

    keras.utils.set_random_seed(0)
    keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    ).save(tmp_path / "seq255.keras")
    raw = keras.models.load_model(tmp_path / "seq255.keras", safe_mode=True)
    clf = load_classifier(tmp_path / "seq255.keras")
    x = clf.preprocess(drawn_digit(4))
    np.testing.assert_allclose(
        clf.predict_input(x).probabilities, np.asarray(raw(x[None] * 255))[0], atol=1e-6
    )
    seen = activations(clf, drawn_digit(4))
    assert seen.names[1] == "conv" and np.isfinite(seen.outputs[1]).all()
    np.testing.assert_allclose(seen.outputs[-1], clf.predict_input(x).probabilities, atol=1e-6)


def test_a_clothes_model_fed_the_fashion_recipe_is_not_told_of_digits(tmp_path):
    """A card-less 28x28 model of clothes (classes named 0-9) with `--preprocessing
    fashion` was answered "not a digit: this looks like 2 digits ... read it as a
    number" and "this may not be a digit at all" (a user test): the fashion recipe
    reads no digits, and its sentences say "something this model knows"."""
    import keras

    keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    ).save(tmp_path / "clothes.keras")
    clf = load_classifier(tmp_path / "clothes.keras", preprocessing="fashion")
    assert not clf.reads_digits and clf.judge.thing == "something this model knows"
    digits = load_classifier(tmp_path / "clothes.keras")  # (no choice: the MNIST recipe)
    assert digits.reads_digits and digits.judge.thing == "a digit"


def test_a_photo_model_that_rescales_0_255_inside_gets_0_255(tmp_path):
    """Keras' image-classification tutorial starts its model with Rescaling(1/255) and
    feeds 0..255 levels; without a card it got the 0-1 scaling and saw every photo
    nearly black. It now gets 0-255 and says why; a scaling chosen by hand stays, with
    a note that the layer expects 0..255."""
    import keras

    keras.utils.set_random_seed(0)
    keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    ).save(tmp_path / "flowers.keras")
    clf = load_classifier(tmp_path / "flowers.keras")
    assert clf.preprocessing == "0-255" and "it gets the 0-255 scaling" in clf.input_note
    raw = keras.models.load_model(tmp_path / "flowers.keras", safe_mode=True)
    stages = clf.preprocess_stages(_photo())
    np.testing.assert_allclose(stages.x, stages.resized.astype(np.float32))  # 0..255 as is
    np.testing.assert_allclose(
        clf.predict(_photo()).probabilities, np.asarray(raw(stages.x[None]))[0], atol=1e-6
    )
    chosen = load_classifier(tmp_path / "flowers.keras", preprocessing="0-1")
    assert chosen.preprocessing == "0-1" and "choose 0-255" in chosen.input_note
    right = load_classifier(tmp_path / "flowers.keras", preprocessing="0-255")
    assert right.input_note is None


def test_a_users_digit_model_borrows_the_bundled_digit_detector(tmp_path):
    """A user's 28x28 digit model has no detector of its own, and max-softmax alone said
    "4, sure" of the written word "hello" (a user test). It borrows mnist-cnn's, which
    judges the input: made here from the bundled network with no card, it must give
    mnist-cnn's own verdicts, and call the word not a digit."""
    import keras
    from PIL import ImageDraw, ImageFont

    from model.runtime.artifacts import load_keras_model
    from model.runtime.artifacts import resolve as resolve_model

    base = load_keras_model(resolve_model("mnist-cnn").keras_path)
    inp = keras.Input((28, 28, 1))
    keras.Model(inp, base(inp)).save(tmp_path / "mine.keras")
    mine = load_classifier(tmp_path / "mine.keras")
    assert mine.judge.lent == "mnist-cnn" and mine.judge.method == "mnist-cnn's detector"
    word = Image.new("L", (280, 120), 255)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 60)
    ImageDraw.Draw(word).text((10, 20), "hello", fill=0, font=font)
    bundled = load_classifier("mnist-cnn")
    for image in (word, drawn_digit(7), drawn_digit(4)):
        got, want = mine.predict(image), bundled.predict(image)
        assert (got.label, got.verdict) == (want.label, want.verdict)
        assert got.ood_score == pytest.approx(want.ood_score, abs=1e-3)
    assert mine.predict(word).verdict == "not_a_digit"
    assert mine.predict(drawn_digit(7)).verdict == "digit"
    # A model of other classes keeps max-softmax: the detector knows digits only.
    assert load_classifier(tmp_path / "mine.keras", preprocessing="fashion").judge.lent is None
