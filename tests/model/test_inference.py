"""The Classifier on the real bundled models."""

import io
import threading

import numpy as np
import pytest
from PIL import Image

from model import BlankImageError, ImageError, load_classifier
from model.runtime.artifacts import ModelNotFoundError
from tests.helpers import drawn_digit


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
def test_scribbled_digits_come_out_right(mnist_cnn, digit):
    p = mnist_cnn.predict(drawn_digit(digit))
    assert p.label == digit and p.class_name == str(digit)
    assert p.probability > 0.5
    assert p.probabilities.shape == (10,)
    assert p.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_same_answer_wherever_and_however_it_is_drawn(mnist_cnn):
    ref = mnist_cnn.predict(drawn_digit(7)).probabilities
    for variant in (
        drawn_digit(7, offset=(-70, 40)),
        drawn_digit(7, width=6),
        drawn_digit(7, width=40),
        Image.eval(drawn_digit(7), lambda v: 255 - v),
    ):
        assert mnist_cnn.predict(variant).label == 7
        assert np.abs(mnist_cnn.predict(variant).probabilities - ref).max() < 0.2


def test_every_input_type(mnist_cnn, tmp_path):
    img = drawn_digit(7)
    path = tmp_path / "seven.png"
    img.save(path)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    inputs = [
        img,
        path,
        str(path),
        buf.getvalue(),
        np.asarray(img),
        np.asarray(img.convert("RGB")),
        np.asarray(img.convert("RGBA")),
    ]
    for item in inputs:
        assert mnist_cnn.predict(item).label == 7


def test_batch_is_one_call_and_matches_single(mnist_cnn, monkeypatch):
    images = [drawn_digit(d) for d in (0, 1, 4, 7)]
    singles = [mnist_cnn.predict(im) for im in images]
    calls = []
    runtime = mnist_cnn.runtime
    monkeypatch.setattr(mnist_cnn, "runtime", lambda x: calls.append(len(x)) or runtime(x))
    batch = mnist_cnn.predict_batch(images)
    assert calls == [4]
    for a, b in zip(singles, batch, strict=True):
        assert a.label == b.label
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert mnist_cnn.predict_batch([]) == []


def test_blank_canvas_is_not_a_guess(mnist_cnn):
    with pytest.raises(BlankImageError):
        mnist_cnn.predict(Image.new("RGBA", (280, 280), (0, 0, 0, 255)))


def test_bad_input_is_an_image_error(mnist_cnn):
    with pytest.raises(ImageError):
        mnist_cnn.predict(b"not an image")


def test_bundled_models_use_the_fast_runtime():
    for name in ("mnist-cnn", "mnist-mlp", "fashion-cnn"):
        assert load_classifier(name).runtime.name == "onnxruntime", name


def test_keras_runtime_agrees_with_onnx(mnist_cnn):
    keras_clf = load_classifier("mnist-cnn", runtime="keras")
    assert keras_clf.runtime.name == "tf.function"
    x = np.stack([mnist_cnn.preprocess(drawn_digit(d)) for d in (0, 1, 4, 7)])
    np.testing.assert_allclose(keras_clf.probabilities(x), mnist_cnn.probabilities(x), atol=1e-5)


def test_stale_onnx_export_is_not_used(tmp_path):
    from model.runtime.artifacts import WEIGHTS_DIR

    for suffix in (".keras", ".json", ".onnx"):
        name = f"mnist-mlp{suffix}"
        (tmp_path / name).write_bytes((WEIGHTS_DIR / name).read_bytes())
    assert load_classifier(tmp_path / "mnist-mlp.keras").runtime.name == "onnxruntime"
    # The .keras file changes (retrained, replaced) but its export does not: not used.
    (tmp_path / "mnist-mlp.keras").write_bytes((WEIGHTS_DIR / "mnist-cnn.keras").read_bytes())
    assert load_classifier(tmp_path / "mnist-mlp.keras").runtime.name == "tf.function"


def test_own_keras_file_without_card(tmp_path):
    from model.architecture import CNNConfig, build_cnn

    build_cnn(CNNConfig(conv1_filters=4, conv2_filters=4, conv3_filters=4)).save(
        tmp_path / "own.keras"
    )
    clf = load_classifier(tmp_path / "own.keras")
    assert clf.name == "own" and clf.recipe == "mnist"
    assert clf.predict(drawn_digit(7)).probabilities.shape == (10,)


def test_unusable_models_get_clear_errors(tmp_path):
    import keras

    with pytest.raises(ModelNotFoundError, match="neither a bundled model"):
        load_classifier("resnet-9000")
    with pytest.raises(ModelNotFoundError, match="not found"):
        load_classifier(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 junk")
    with pytest.raises(ValueError, match="cannot load"):
        load_classifier(tmp_path / "junk.keras")
    # Any (H, W, 1 | 3) -> (K >= 2) model is usable; four channels or one class are not.
    for name, shape, k in (("rgba", (32, 32, 4), 5), ("one_class", (32, 32, 3), 1)):
        wrong = keras.Sequential(
            [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(k)]
        )
        wrong.save(tmp_path / f"{name}.keras")
        with pytest.raises(ValueError, match="needs a model"):
            load_classifier(tmp_path / f"{name}.keras")


def test_lambda_layers_are_refused_by_safe_mode(tmp_path):
    import keras

    net = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Lambda(lambda t: t * 2),
            keras.layers.Dense(10),
        ]
    )
    net.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe"):
        load_classifier(tmp_path / "lambda.keras")


def test_thread_safe_prediction(mnist_cnn):
    images = [drawn_digit(d) for d in (0, 1, 4, 7)] * 5
    expected = [mnist_cnn.predict(im).label for im in images]
    results = [None] * len(images)

    def work(i):
        results[i] = mnist_cnn.predict(images[i]).label

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


@pytest.mark.data
@pytest.mark.parametrize("name", ["mnist-cnn", "mnist-mlp", "fashion-cnn"])
def test_onnx_matches_keras_on_the_test_set(name, real_data_dir):
    from model.datasets import load_split, locate, to_model_input

    fast = load_classifier(name)
    ref = load_classifier(name, runtime="keras")
    test = load_split(locate(fast.card.dataset, real_data_dir), "test")
    x = to_model_input(test.images)
    diffs = [
        np.abs(fast.probabilities(x[i : i + 2000]) - ref.probabilities(x[i : i + 2000])).max()
        for i in range(0, len(x), 2000)
    ]
    assert max(diffs) < 1e-4


def test_a_batch_answers_as_predict_and_names_the_image_it_cannot_read(mnist_cnn):
    """predict_batch said "This does not look like a digit" where predict said "this
    looks like 3 digits (147)", and a blank image failed the batch without saying which
    one (a user test)."""
    from tests.helpers import number

    images = [drawn_digit(7), number(1, 4, 7)]
    assert [p.reason for p in mnist_cnn.predict_batch(images)] == [
        mnist_cnn.predict(im).reason for im in images
    ]
    assert "3 digits" in mnist_cnn.predict_batch(images)[1].reason
    with pytest.raises(BlankImageError, match="image 2 of 3: the image looks blank"):
        mnist_cnn.predict_batch([drawn_digit(1), drawn_digit(7), Image.new("L", (280, 280))])
