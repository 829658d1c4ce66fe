"""What each layer sees: every layer's output for one input on tiny named models
(functional and Sequential), the feature-map grid, receptive fields checked by
perturbation, and the bundled CNN's shipped top patches."""

from __future__ import annotations

import numpy as np
import pytest

from model import load_classifier
from model.why.layers import activations_of, feature_grid, layer_names, load_patches
from tests.helpers import bar_digits, drawn_digit, tiny_digit_net


@pytest.fixture(scope="module")
def tiny_clf(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    tiny_digit_net().save(path)
    return load_classifier(path)


def test_every_layer_output_in_forward_order(tiny_clf):
    import keras

    x = bar_digits(1)[0][0].astype(np.float32)[..., None] / 255
    acts = activations_of(tiny_clf, x)
    assert acts.names == ("conv1", "pool", "flatten", "fc", "drop", "output")
    assert acts.kinds[0] == "Conv2D" and acts.kinds[-1] == "Dense"
    net = tiny_clf.net
    for name, out in zip(acts.names, acts.outputs, strict=True):
        want = np.asarray(keras.Model(net.inputs, net.get_layer(name).output)(x[None]))[0]
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acts["output"], tiny_clf.probabilities(x[None])[0], atol=1e-5)
    assert list(acts.feature_maps) == ["conv1", "pool"]
    assert acts["conv1"].shape == (28, 28, 4) and acts["pool"].shape == (7, 7, 4)
    with pytest.raises(KeyError, match="conv9"):
        acts["conv9"]


def test_any_keras_model_sequential_and_colour(tmp_path):
    import keras

    net = keras.Sequential(
        [
            keras.Input((10, 14, 3)),
            keras.layers.Conv2D(3, 3, name="c1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    net.save(tmp_path / "seq.keras")
    clf = load_classifier(tmp_path / "seq.keras")
    acts = clf.activations(np.zeros((10, 14, 3), np.uint8) + 128)
    assert layer_names(clf.net) == acts.names == ("c1", "gap", "out")
    assert acts["c1"].shape == (8, 12, 3) and acts["out"].shape == (2,)


def test_activations_of_a_drawing_go_through_the_models_preprocessing(tiny_clf):
    acts = tiny_clf.activations(drawn_digit(7))
    np.testing.assert_allclose(acts.x[..., 0], tiny_clf.preprocess(drawn_digit(7)), atol=1e-6)


def test_feature_grid_tiles_each_map_scaled_on_its_own():
    maps = np.zeros((3, 2, 5), np.float32)
    maps[..., 1] = 2.0
    maps[0, 0, 1] = 4.0
    maps[..., 2] = 1.0  # a weaker map still spans the full range
    grid = feature_grid(maps)
    assert grid.shape == (2 * 3 + 1, 3 * 2 + 2) and grid.dtype == np.uint8
    tile = grid[0:3, 3:5]  # map 1: row 0, column 1
    assert tile[0, 0] == 255 and tile[1, 1] == 128
    assert grid[0:3, 0:2].max() == 0  # map 0 never fires: black
    assert grid[0:3, 6:8].min() == 255
    assert grid[0:3, 2].min() == 64  # the gap


def test_receptive_field_bounds_what_a_unit_sees():
    """Changing pixels outside a unit's receptive field never changes it."""
    import keras
    from keras import layers

    from training.evidence import receptive_field

    keras.utils.set_random_seed(3)
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(2, 3, padding="same", name="a")(inp)
    x = layers.MaxPooling2D(name="p")(x)
    x = layers.Conv2D(2, 3, padding="same", name="b")(x)
    x = layers.MaxPooling2D(name="q")(x)
    x = layers.Conv2D(2, 3, padding="same", name="c")(x)
    net = keras.Model(inp, layers.Dense(2, name="out")(layers.Flatten()(x)))
    size, jump, start = receptive_field(net, "c")
    assert (size, jump, start) == (18, 4, -7)
    sub = keras.Model(net.inputs, net.get_layer("c").output)
    rng = np.random.default_rng(0)
    x0 = rng.random((1, 28, 28, 1)).astype(np.float32)
    i, j = 3, 2
    inside = np.zeros((28, 28), bool)
    r0, c0 = start + i * jump, start + j * jump
    inside[max(r0, 0) : r0 + size, max(c0, 0) : c0 + size] = True
    outside = x0.copy()
    outside[0, ~inside, 0] = rng.random((~inside).sum())
    within = x0.copy()
    within[0, inside, 0] = rng.random(inside.sum())
    base = np.asarray(sub(x0))[0, i, j]
    np.testing.assert_allclose(np.asarray(sub(outside))[0, i, j], base, atol=1e-5)
    assert not np.allclose(np.asarray(sub(within))[0, i, j], base, atol=1e-5)


@pytest.mark.data
def test_built_top_patches_are_crops_of_mnist_train(real_data_dir, bundled_evidence):
    from model.datasets import load_split

    train = load_split(real_data_dir / "mnist", "train")
    clf = load_classifier("mnist-cnn")
    patches = load_patches(clf)
    assert set(patches) == {"conv1", "conv2_1", "conv2_2", "conv3_1", "conv3_2"}
    for layer, p in patches.items():
        filters = clf.net.get_layer(layer).filters
        assert p.images.shape[:2] == p.index.shape == p.activation.shape
        assert p.images.shape[0] == filters
        assert np.all(np.diff(p.activation, axis=1) <= 0)  # strongest first
    # The top crop of a filter is a piece of the training digit it names.
    p = patches["conv2_1"]
    for f in range(0, p.images.shape[0], 7):
        digit = np.pad(train.images[p.index[f, 0]], 8)
        crop = p.images[f, 0]
        size = crop.shape[0]
        found = any(
            np.array_equal(digit[r : r + size, c : c + size], crop)
            for r in range(0, digit.shape[0] - size + 1)
            for c in range(0, digit.shape[1] - size + 1)
        )
        assert found
    assert load_patches(load_classifier("mnist-mlp")) == {}  # no conv layers: none ship
