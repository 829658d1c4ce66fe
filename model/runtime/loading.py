"""Loading a Keras network safely and checking it against what DigitLens needs."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from model.errors import ModelLoadError
from model.runtime.artifacts import load_keras_model
from model.runtime.backend import import_keras

if TYPE_CHECKING:
    import keras
    import numpy as np


#: The file each network `load_net` made was loaded from (a copy of it has none).
_SOURCES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def source_of(net: object) -> Path | None:
    """The `.keras` file this very network object was loaded from by `load_net`, or None
    (a network built or cloned in memory: its weights may differ from any file)."""
    try:
        return _SOURCES.get(net)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


#: The networks `load_net` made, by their file as it was then (path, mtime, size): every
#: classifier of one file (its runtimes: auto, onnx-int8, ...) shares one network, and with
#: it the compiled passes and searches cached by network. Switching the app's runtime
#: loaded the file again and traced every map and edit again (2-3 s a first click, a
#: user test). Held only while a classifier holds the network.
_NETS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_NETS_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
        return str(path.resolve()), st.st_mtime_ns, st.st_size
    except OSError:
        return None  # (load_keras_model says what is wrong with it)


def load_net(path: Path) -> keras.Model:
    """The Keras network of a `.keras` file (safe mode), checked against our contract; the
    same object for the same file, unchanged since, while one is in use (`_NETS`)."""
    path = Path(path)
    key = _file_key(path)
    with _NETS_LOCK:
        shared = _NETS.get(key) if key is not None else None
    if shared is not None:
        return shared
    import_keras()
    try:
        net = load_keras_model(path)
    except ModelLoadError:
        raise  # already says what the file is
    except Exception as exc:  # Keras raises many types for a bad or unsafe file
        raise ModelLoadError(
            f"cannot load {path.name} as a Keras model in safe mode: {exc}"
        ) from exc
    inputs, outputs = getattr(net, "inputs", None) or [], getattr(net, "outputs", None) or []
    if len(inputs) > 1 or len(outputs) > 1:  # (accepted, it failed at its first image with
        # Keras' "expects 2 named input(s)" and a traceback, a user test)
        raise ModelLoadError(
            f"{path.name} takes {len(inputs)} inputs and returns {len(outputs)} "
            "outputs; DigitLens needs a model of one image in and one set of class "
            "probabilities out"
        )
    in_shape = tuple(inputs[0].shape[1:]) if inputs else None
    out_shape = tuple(outputs[0].shape[1:]) if outputs else None
    check_contract(in_shape, out_shape, path)
    check_probabilities(net, path)
    _SOURCES[net] = path
    if key is not None:
        with _NETS_LOCK:
            net = _NETS.setdefault(key, net)  # (a second thread's load of it: the first's)
    return net


#: A first layer `Rescaling(scale, offset)` says the model was trained on 0..255 levels
#: where 255 * scale is about 1 (to 0..1) or 2 (to -1..1, offset -1).
RESCALING_SPANS = ((0.99, 1.01), (1.98, 2.02))
#: The networks `unit_input_net` made, by the network they were made from.
_UNIT_NETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _first_layer(net: keras.Model):
    """The network's first layer after its input, or None."""
    import keras

    return next((x for x in net.layers if not isinstance(x, keras.layers.InputLayer)), None)


def leading_rescaling(net: keras.Model) -> tuple[float, float] | None:
    """(scale, offset) of a network's first layer where it is a `Rescaling` that takes
    0..255 levels (RESCALING_SPANS: 1/255, or 1/127.5 with offset -1), else None."""
    import keras

    first = _first_layer(net)
    if not isinstance(first, keras.layers.Rescaling):
        return None
    try:
        scale, offset = float(first.scale), float(first.offset)
    except (TypeError, ValueError):  # (a scale per channel: not a level range to guess)
        return None
    if any(lo <= 255 * scale <= hi for lo, hi in RESCALING_SPANS):
        return scale, offset
    return None


def rescaling_words(rescaling: tuple[float, float]) -> str:
    """A first layer's `leading_rescaling` in words, the start of every note about it."""
    return "its first layer, Rescaling(scale={:.6g}, offset={:g}), takes 0..255 levels".format(
        *rescaling
    )


def rescaled_note(net: keras.Model) -> str | None:
    """What a digit model `unit_input_net` adapts is told, else None."""
    found = leading_rescaling(net)
    return (
        None
        if found is None
        else f"{rescaling_words(found)}: the digit recipe's 0..1 go in as 0..255"
    )


def unit_input_net(net: keras.Model) -> keras.Model | None:
    """For a network that rescales 0..255 levels in its first layer (`leading_rescaling`),
    the same network taking 0..1 (what a digit recipe makes): that layer scaled by 255,
    every other layer a copy with the same weights (a copy, not the same object: a
    layer called in two graphs has two outputs, and a sub-model of the layers' outputs,
    `model.why.layers`, failed with "the name input_layer is used 2 times"). None for
    any other network. One per network, while it lives.

    A digit model trained on 0..255 with `Rescaling(1/255)` inside read the recipe's
    0..1 as nearly black: a clear 7 was "1 (19.6 %)" (a user test)."""
    if net in _UNIT_NETS:
        return _UNIT_NETS[net]
    found = leading_rescaling(net)
    if found is None:
        return None
    import keras

    scale, offset = found
    first = _first_layer(net)

    def copy_but_first(layer):
        if layer is first:
            return keras.layers.Rescaling(255 * scale, offset=offset, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    unit = keras.models.clone_model(net, clone_function=copy_but_first)
    unit.set_weights(net.get_weights())  # (the Rescaling has none: the same list)
    _UNIT_NETS[net] = unit
    return unit


#: A model's outputs are probabilities where, on a probe, each is in [0, 1] and each row
#: sums to 1 within this (float16 softmaxes included).
PROBABILITY_SUM_TOLERANCE = 1e-2


def check_probabilities(net: keras.Model, path: Path) -> None:
    """Raise ModelLoadError where the network's outputs are not class probabilities (a
    model that ends in logits): read as probabilities, its logits were reported as
    "7 (> 99.9 %)", its probability 4.21, and its verdict `digit` (a user test). Probed
    on a black, a white and a random input of its shape (one call)."""
    import numpy as np

    shape = tuple(int(d) for d in net.inputs[0].shape[1:])
    probe = np.stack(
        [
            np.zeros(shape, np.float32),
            np.ones(shape, np.float32),
            np.random.default_rng(0).random(shape, dtype=np.float32),
        ]
    )
    try:
        out = np.asarray(net(probe, training=False), np.float64)
    except Exception as exc:  # (a model that cannot run on images of its own shape)
        raise ModelLoadError(f"{path.name} cannot run on an image of its shape: {exc}") from exc
    sums = out.sum(axis=1)
    if (
        np.isfinite(out).all()
        and out.min() >= -1e-6
        and out.max() <= 1 + 1e-6
        and np.abs(sums - 1).max() <= PROBABILITY_SUM_TOLERANCE
    ):
        return
    raise ModelLoadError(
        f"{path.name} returns {out.shape[1]} numbers that are not class probabilities (on "
        f"a probe they run from {out.min():.3g} to {out.max():.3g} and sum to "
        f"{_span(sums)}); a model that ends in logits needs a softmax "
        "as its last layer: outputs = keras.layers.Softmax()(logits), saved again"
    )


def _span(values: np.ndarray) -> str:
    """ "0.837", or "from -0.5 to 0.2" for a span ("0-0.837" read as a negative number)."""
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"from {lo:.3g} to {hi:.3g}"


def check_contract(in_shape: tuple | None, out_shape: tuple | None, path: Path) -> None:
    """A usable model takes (N, H, W, 1 or 3) images of a fixed size and gives (N, K)
    class probabilities, K >= 2."""
    in_shape = tuple(in_shape) if in_shape is not None else None
    out_shape = tuple(out_shape) if out_shape is not None else None
    image_in = (
        in_shape is not None
        and len(in_shape) == 3
        and all(isinstance(d, int) and d > 0 for d in in_shape)
        and in_shape[2] in (1, 3)
    )
    classes_out = (
        out_shape is not None
        and len(out_shape) == 1
        and isinstance(out_shape[0], int)
        and out_shape[0] >= 2
    )
    if not (image_in and classes_out):
        raise ModelLoadError(
            f"{path.name} takes {in_shape} and returns {out_shape}; DigitLens needs a model "
            "that takes (H, W, 1) or (H, W, 3) images of a fixed size and returns K >= 2 "
            "class probabilities"
        )
