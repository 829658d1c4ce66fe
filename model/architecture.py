"""The reference CNN and the MLP baseline, with the layer names the rest of DigitLens uses.

The reference CNN (input 28x28x1, MNIST format)::

    conv1 ─ pool ─┬─ conv2_1 ─ pool ─ conv3_1 ─┐
                  └─ conv2_2 ─ pool ─ conv3_2 ─┴─ conv3 (concat) ─ pool ─ fc1 ─ fc2 ─ output

Every non-linearity is a ReLU and every downsampling a 2x2 max-pool. The layer
names below are public: explanations, the UI and the server refer to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from model.runtime.backend import import_keras

if TYPE_CHECKING:  # Keras loads only when a network is built: the names below are keras-free
    import keras

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# The public layer names, used everywhere by these names.
CONV1 = "conv1"
CONV2_1, CONV2_2 = "conv2_1", "conv2_2"
CONV3_1, CONV3_2 = "conv3_1", "conv3_2"
CONV3 = "conv3"  # the concatenation of conv3_1 and conv3_2
FC1, FC2, OUTPUT = "fc1", "fc2", "output"

#: Layers whose output is a spatial feature map, in forward order.
CONV_LAYERS: tuple[str, ...] = (CONV1, CONV2_1, CONV2_2, CONV3_1, CONV3_2, CONV3)
#: The default layer for Grad-CAM-style explanations: the last spatial map.
DEFAULT_CAM_LAYER = CONV3


@dataclass(frozen=True)
class CNNConfig:
    """Hyper-parameters of the reference CNN; saved in the model card."""

    conv1_filters: int = 32
    conv2_filters: int = 48  # per branch
    conv3_filters: int = 64  # per branch; conv3 has twice this many channels
    kernel_size: int = 3
    fc1_units: int = 256
    fc2_units: int = 128
    dropout: float = 0.4
    batch_norm: bool = True

    def to_dict(self) -> dict:
        return {"kind": "cnn", **asdict(self)}


@dataclass(frozen=True)
class MLPConfig:
    """The baseline without convolutions: dense 256-128-10."""

    fc1_units: int = 256
    fc2_units: int = 128
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return {"kind": "mlp", **asdict(self)}


def _conv(
    x: keras.KerasTensor, filters: int, name: str, cfg: CNNConfig, norm: bool = True
) -> keras.KerasTensor:
    """A 'same' convolution with ReLU named `name`, optionally followed by batch norm.

    The named layer's output is the post-ReLU feature map that Grad-CAM reads;
    batch norm (after the ReLU) only conditions what the next layer sees.
    """
    from keras import layers

    x = layers.Conv2D(filters, cfg.kernel_size, padding="same", activation="relu", name=name)(x)
    if cfg.batch_norm and norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return x


def build_cnn(config: CNNConfig | None = None) -> keras.Model:
    """Build the reference CNN: (N, 28, 28, 1) float32 in [0, 1] -> (N, 10) softmax."""
    keras = import_keras()
    layers = keras.layers
    cfg = config or CNNConfig()
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = _conv(inputs, cfg.conv1_filters, CONV1, cfg)  # (N, 28, 28, c1)
    x = layers.MaxPooling2D(name="pool1")(x)  # (N, 14, 14, c1)

    branches = []
    for i in (1, 2):
        b = _conv(x, cfg.conv2_filters, f"conv2_{i}", cfg)  # (N, 14, 14, c2)
        b = layers.MaxPooling2D(name=f"pool2_{i}")(b)  # (N, 7, 7, c2)
        # No norm here, so that conv3 is exactly the concatenation of conv3_1 and conv3_2.
        b = _conv(b, cfg.conv3_filters, f"conv3_{i}", cfg, norm=False)  # (N, 7, 7, c3)
        branches.append(b)

    x = layers.Concatenate(name=CONV3)(branches)  # (N, 7, 7, 2 * c3)
    if cfg.batch_norm:
        x = layers.BatchNormalization(name="conv3_bn")(x)
    x = layers.MaxPooling2D(name="pool3")(x)  # (N, 3, 3, 2 * c3)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(cfg.dropout, name="dropout1")(x)
    x = layers.Dense(cfg.fc1_units, activation="relu", name=FC1)(x)
    x = layers.Dropout(cfg.dropout, name="dropout2")(x)
    x = layers.Dense(cfg.fc2_units, activation="relu", name=FC2)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT)(x)
    return keras.Model(inputs, outputs, name="digitlens_cnn")


def build_mlp(config: MLPConfig | None = None) -> keras.Model:
    """Build the dense baseline: (N, 28, 28, 1) -> flatten -> 256 -> 128 -> (N, 10) softmax."""
    keras = import_keras()
    layers = keras.layers
    cfg = config or MLPConfig()
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(cfg.fc1_units, activation="relu", name=FC1)(x)
    x = layers.Dropout(cfg.dropout, name="dropout1")(x)
    x = layers.Dense(cfg.fc2_units, activation="relu", name=FC2)(x)
    x = layers.Dropout(cfg.dropout, name="dropout2")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT)(x)
    return keras.Model(inputs, outputs, name="digitlens_mlp")


def build_from_config(config: dict) -> keras.Model:
    """Rebuild a network from the `architecture` dict stored in a model card."""
    params = {k: v for k, v in config.items() if k != "kind"}
    if config.get("kind") == "mlp":
        return build_mlp(MLPConfig(**params))
    return build_cnn(CNNConfig(**params))


def conv_layer_names(model: keras.Model) -> tuple[str, ...]:
    """The public spatial layers this model has (empty for the MLP)."""
    return public_conv_layers(layer.name for layer in model.layers)


def public_conv_layers(layer_names: Iterable[str]) -> tuple[str, ...]:
    """The public spatial layers among `layer_names`, in forward order."""
    names = set(layer_names)
    return tuple(name for name in CONV_LAYERS if name in names)
