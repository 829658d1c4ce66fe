"""What each layer sees: every layer's output for one input, and the training-set
patches that excite each filter of a bundled model most.

    acts = clf.activations(image)       # Activations
    acts["conv1"].shape                 # (28, 28, 32): that layer's feature maps
    acts.feature_maps                   # the (h, w, c) outputs only, in forward order

Works for any Keras classifier: the outputs of the network's own (top-level) layers
are read by one compiled sub-model; a nested backbone counts as one layer. The
patches are made by `python -m training.evidence` into the evidence cache as
`<stem>-<key>.patches.npz` (the key: the model file's content, `model.why.cache`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.errors import ModelLoadError
from model.runtime.backend import compiled, import_keras
from model.why.cache import evidence_file, evidence_path

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.input.decode import ImageInput

#: Inputs per compiled call when whole data sets are embedded.
BATCH = 1000
#: The evidence file holding each filter's top training patches (`evidence_path`).
PATCHES_SUFFIX = ".patches.npz"

_LOCK = threading.Lock()
# net -> {tuple of layer names: compiled function}; entries die with their network.
_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Activations:
    """Every layer's output for one input, in forward order (batch axis removed)."""

    x: np.ndarray  # the model input, (H, W, C) float32
    names: tuple[str, ...]  # layer names, forward order
    kinds: tuple[str, ...]  # layer classes, e.g. "Conv2D"
    outputs: tuple[np.ndarray, ...]  # one array per layer: (h, w, c) or (d,)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.outputs[self.names.index(name)]
        except ValueError:
            raise KeyError(f"no layer {name!r}; layers: {', '.join(self.names)}") from None

    @property
    def feature_maps(self) -> dict[str, np.ndarray]:
        """The layers with a spatial (h, w, c) output, by name, in forward order."""
        return {n: o for n, o in zip(self.names, self.outputs, strict=True) if o.ndim == 3}


def layer_names(net: Any) -> tuple[str, ...]:
    """The network's own layers whose outputs `activations` reads (inputs left out)."""
    return tuple(la.name for la in net.layers if type(la).__name__ != "InputLayer")


def compiled_outputs(net: Any, names: Sequence[str]):
    """A compiled function (N, H, W, C) float32 -> list of the named layers' outputs.

    One `tf.function` with a fixed signature per (network, layer names): any batch size
    runs without retracing. Built once, shared by every thread.
    """
    names = tuple(names)
    with _LOCK:
        cached = _FNS.setdefault(net, {})
        if names in cached:
            return cached[names]
        keras = import_keras()
        import tensorflow as tf

        # Deferred like TensorFlow: model.why.passes imports scipy, which plain ONNX
        # prediction (this module is imported by model.classifier) never needs.
        from model.why.passes import TRACE_LOCK as ATTRIBUTION_TRACE_LOCK

        try:
            outs = [net.get_layer(n).output for n in names]
        except ValueError as exc:
            raise ModelLoadError(f"cannot read layer outputs of {net.name}: {exc}") from exc
        sub = keras.Model(net.inputs, outs)
        shape = [int(d) for d in net.inputs[0].shape[1:]]
        fn = compiled(
            lambda x: sub(x, training=False),
            input_signature=[tf.TensorSpec([None, *shape], tf.float32)],
        )
        # model.why.passes wraps layers' `call` while it traces its passes (in another
        # thread too: the app warms them up): trace here under the same lock, or either
        # trace may record the other's tensors.
        with ATTRIBUTION_TRACE_LOCK:
            fn.get_concrete_function()
        cached[names] = fn
        return fn


def layer_outputs(net: Any, x: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
    """x (N, H, W, C) -> the named layers' outputs, each (N, ...), in batches of BATCH."""
    shape = [int(d) for d in net.inputs[0].shape[1:]]
    x = np.asarray(x, np.float32).reshape(-1, *shape)
    fn = compiled_outputs(net, names)
    parts: list[list[np.ndarray]] = [[] for _ in names]
    for i in range(0, max(len(x), 1), BATCH):
        out = fn(x[i : i + BATCH])
        out = out if isinstance(out, (list, tuple)) else [out]
        for part, o in zip(parts, out, strict=True):
            part.append(o.numpy())
    return [np.concatenate(p) for p in parts]


def features(net: Any, x: np.ndarray, layer: str) -> np.ndarray:
    """x (N, H, W, C) -> (N, D) float32: one layer's output, flattened."""
    (out,) = layer_outputs(net, x, (layer,))
    return out.reshape(len(out), -1).astype(np.float32)


def activations_of(clf: Classifier, x: np.ndarray) -> Activations:
    """Every layer's output for one input already in model format."""
    net = clf.net
    x = np.asarray(x, np.float32).reshape(clf.input_shape)
    names = layer_names(net)
    outs = layer_outputs(net, x[None], names)
    kinds = tuple(type(net.get_layer(n)).__name__ for n in names)
    return Activations(x, names, kinds, tuple(o[0] for o in outs))


def activations(clf: Classifier, image: ImageInput) -> Activations:
    """Every layer's output for `image` (anything `Classifier.predict` takes), after the
    model's own preprocessing."""
    return activations_of(clf, clf.preprocess(image))


# ---------------------------------------------------------------- top patches
@dataclass(frozen=True)
class Patches:
    """For each filter of one layer, the training-set patches that excite it most."""

    layer: str
    images: np.ndarray  # (filters, top, rf, rf) uint8: the receptive-field crops
    index: np.ndarray  # (filters, top) int32: the training digit each crop comes from
    activation: np.ndarray  # (filters, top) float32: the filter's response there


def patches_path(keras_path: Path) -> Path:
    """Where `python -m training.evidence` writes the model's patches (`evidence_path`)."""
    return evidence_path(keras_path, PATCHES_SUFFIX)


def load_patches(clf: Classifier) -> dict[str, Patches]:
    """The top patches of each conv layer, by layer; empty when none were built for this
    model file (`evidence_file`: another version's are not shown)."""
    path = evidence_file(clf.artifact.keras_path, PATCHES_SUFFIX)
    if not path.is_file():
        return {}
    out = {}
    with np.load(path, allow_pickle=False) as z:
        for layer in [k[: -len("/images")] for k in z.files if k.endswith("/images")]:
            out[layer] = Patches(
                layer, z[f"{layer}/images"], z[f"{layer}/index"], z[f"{layer}/activation"]
            )
    return out


def grid_columns(maps: int) -> int:
    """How many maps a row of `feature_grid` holds: ceil(sqrt(maps))."""
    return int(np.ceil(np.sqrt(maps)))


def feature_grid(maps: np.ndarray, gap: int = 1) -> np.ndarray:
    """(h, w, c) feature maps -> one (rows*(h+gap)-gap, cols*(w+gap)-gap) uint8 image: the
    c maps tiled row by row (cols = ceil(sqrt(c))), each scaled to its own 0..max (a map
    that never fires stays black), separated by `gap` grey pixels."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3:
        raise ValueError(f"feature maps are (h, w, c), not {maps.shape}")
    h, w, c = maps.shape
    cols = grid_columns(c)
    rows = int(np.ceil(c / cols))
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), 64, np.uint8)
    peak = maps.reshape(-1, c).max(0)
    low = np.minimum(maps.reshape(-1, c).min(0), 0)
    for i in range(c):
        r, q = divmod(i, cols)
        span = peak[i] - low[i]
        tile = (maps[..., i] - low[i]) / span if span > 0 else np.zeros((h, w), np.float32)
        grid[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = np.round(
            tile * 255
        ).astype(np.uint8)
    return grid
