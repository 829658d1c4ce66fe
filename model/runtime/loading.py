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
    key = _file_key(Path(path))
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
    in_shape = tuple(net.inputs[0].shape[1:]) if getattr(net, "inputs", None) else None
    out_shape = tuple(net.outputs[0].shape[1:]) if getattr(net, "outputs", None) else None
    check_contract(in_shape, out_shape, path)
    _SOURCES[net] = Path(path)
    if key is not None:
        with _NETS_LOCK:
            net = _NETS.setdefault(key, net)  # (a second thread's load of it: the first's)
    return net


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
