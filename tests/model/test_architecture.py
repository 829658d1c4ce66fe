import keras
import numpy as np
import pytest

from model.architecture import (
    CONV_LAYERS,
    CNNConfig,
    build_cnn,
    build_from_config,
    build_mlp,
    conv_layer_names,
)

SMALL = CNNConfig(conv1_filters=4, conv2_filters=4, conv3_filters=4, fc1_units=8, fc2_units=8)


def test_cnn_has_the_public_layer_names_and_shapes():
    net = build_cnn(SMALL)
    names = [layer.name for layer in net.layers]
    for name in (*CONV_LAYERS, "fc1", "fc2", "output"):
        assert name in names
    assert net.get_layer("conv1").output.shape == (None, 28, 28, 4)
    assert net.get_layer("conv2_1").output.shape == (None, 14, 14, 4)
    assert net.get_layer("conv3_2").output.shape == (None, 7, 7, 4)
    assert net.get_layer("conv3").output.shape == (None, 7, 7, 8)  # concatenation of both
    assert net.output.shape == (None, 10)
    assert conv_layer_names(net) == CONV_LAYERS


def test_conv3_concatenates_the_two_branches():
    net = build_cnn(SMALL)
    conv3 = net.get_layer("conv3")
    inbound = [t._keras_history[0].name for t in conv3.input]
    assert inbound == ["conv3_1", "conv3_2"]


def test_relu_everywhere_and_max_pooling_only():
    net = build_cnn(SMALL)
    for layer in net.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense) and layer.name != "output":
            assert layer.activation is keras.activations.relu, layer.name
        assert not isinstance(layer, keras.layers.AveragePooling2D)
        if isinstance(layer, keras.layers.Conv2D):
            assert layer.strides == (1, 1)  # downsampling is by max-pool only


def test_outputs_are_probabilities():
    p = build_cnn(SMALL)(np.random.rand(3, 28, 28, 1).astype("float32")).numpy()
    assert p.shape == (3, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_mlp_is_dense_256_128_10_without_convolutions():
    net = build_mlp()
    assert [net.get_layer(n).units for n in ("fc1", "fc2", "output")] == [256, 128, 10]
    assert conv_layer_names(net) == ()


@pytest.mark.parametrize(
    "config", [SMALL.to_dict(), {"kind": "mlp", "fc1_units": 16, "fc2_units": 8, "dropout": 0.0}]
)
def test_save_load_round_trip_in_safe_mode(tmp_path, config):
    net = build_from_config(config)
    path = tmp_path / "m.keras"
    net.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(net.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)
