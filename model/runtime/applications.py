"""Keras Applications (ImageNet classifiers) by name, with weights found offline first.

    build_application("mobilenet_v2")         # weights from ~/.keras/models, or downloaded
    build_application("resnet50", weights="/data/resnet50.h5")
    build_application("efficientnet_b0", weights=None, input_shape=(32, 32, 3))  # tests

Any `keras.applications` model is accepted by name: `resnet50`, `ResNet50`,
`mobilenet_v2`, `efficientnet_b0` all work (case and underscores do not matter).
Three are named here with what DigitLens knows about them (the weight file Keras
caches, the input size and the scaling); the others get their input size from
Keras and their scaling from the module they live in.

Where the weights come from, in order:
1. `weights=PATH` (the CLI's `--weights`), or $DIGITLENS_WEIGHTS_<NAME> (also the server's way);
2. the file Keras caches in `$KERAS_HOME/models/` (default `~/.keras/models/`);
3. a download by Keras, where there is internet and `download=True`.
Offline without the file, `ModelLoadError` says which file to put where.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from model.errors import ModelLoadError, WeightsUnavailableError
from model.input.photo import canonical_scaling
from model.runtime.backend import import_keras

CLASS_NAMES_FILE = Path(__file__).resolve().parents[1] / "data" / "imagenet_classes.json"
#: Scaling (Keras `preprocess_input` mode) of each keras.applications module.
MODULE_SCALING = {
    "convnext": "0-255",
    "densenet": "torch",
    "efficientnet": "0-255",
    "efficientnet_v2": "0-255",
    "inception_resnet_v2": "-1-1",
    "inception_v3": "-1-1",
    "mobilenet": "-1-1",
    "mobilenet_v2": "-1-1",
    "mobilenet_v3": "0-255",
    "nasnet": "-1-1",
    "resnet": "caffe",
    "resnet50": "caffe",
    "resnet_v2": "-1-1",
    "vgg16": "caffe",
    "vgg19": "caffe",
    "xception": "-1-1",
}
#: Keras' default input side per module (224 for the rest).
DEFAULT_INPUT_SIDE = 224
INPUT_SIDE = {"inception_v3": 299, "inception_resnet_v2": 299, "xception": 299}
NASNET_LARGE_SIDE = 331


@dataclass(frozen=True)
class Application:
    """A Keras Applications model as DigitLens uses it."""

    name: str  # DigitLens' name: mobilenet_v2
    constructor: str  # the keras.applications function: MobileNetV2
    input_size: int  # square input side
    scaling: str  # see model.input.photo
    weights_file: str | None  # the file Keras caches in $KERAS_HOME/models (None: unknown)


#: The models the app lists by name; any other keras.applications model works too.
NAMED: dict[str, Application] = {
    a.name: a
    for a in (
        Application(
            "mobilenet_v2",
            "MobileNetV2",
            224,
            "-1-1",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ),
        Application(
            "resnet50", "ResNet50", 224, "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
        ),
        Application("efficientnet_b0", "EfficientNetB0", 224, "0-255", "efficientnetb0.h5"),
    )
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _constructors() -> dict[str, tuple[str, str]]:
    """normalised name -> (constructor name, module name) for every keras.applications model."""
    keras = import_keras()

    found = {}
    for attr in dir(keras.applications):
        fn = getattr(keras.applications, attr)
        if attr[:1].isupper() and callable(fn):
            module = getattr(fn, "__module__", "").rsplit(".", 1)[-1]
            found[_key(attr)] = (attr, module)
    return found


def is_application(name: str) -> bool:
    """Whether `name` names a Keras Applications model (without importing Keras for NAMED)."""
    key = _key(str(name))
    if key in {_key(n) for n in NAMED}:
        return True
    if str(name).endswith((".keras", ".h5")) or os.sep in str(name):
        return False
    try:
        return key in _constructors()
    except ImportError:
        return False


def application(name: str) -> Application:
    """The Application for any keras.applications name; ModelLoadError when there is none."""
    key = _key(name)
    for app in NAMED.values():
        if _key(app.name) == key or _key(app.constructor) == key:
            return app
    ctors = _constructors()
    if key not in ctors:
        raise ModelLoadError(
            f"{name!r} is not a Keras Applications model; try one of: {', '.join(NAMED)}"
        )
    constructor, module = ctors[key]
    size = INPUT_SIDE.get(module, DEFAULT_INPUT_SIDE)
    if constructor == "NASNetLarge":
        size = NASNET_LARGE_SIDE
    scaling = MODULE_SCALING.get(module, "0-255")
    return Application(_snake(constructor), constructor, size, scaling, None)


def _snake(constructor: str) -> str:
    """MobileNetV2 -> mobilenet_v2, ResNet50 -> resnet50 (DigitLens' naming)."""
    s = re.sub(r"(?<=[a-z])(?=V\d)", "_", constructor)
    s = re.sub(r"(?<=Net)(?=B\d)", "_", s)
    return s.lower()


def weights_env(app: Application) -> str:
    """The environment variable that may name this model's weights file."""
    return "DIGITLENS_WEIGHTS_" + re.sub(r"[^A-Z0-9]", "_", app.name.upper())


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: $KERAS_HOME/models or ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def locate_weights(app: Application, weights: str | os.PathLike | None = "imagenet") -> str | None:
    """The weights argument for the constructor: a file path, "imagenet" (download) or None.

    Raises ModelLoadError when a named file is missing.
    """
    if weights is None:
        return None
    if str(weights) != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"no weights file at {path} for {app.name}")
        return str(path)
    env = os.environ.get(weights_env(app))
    if env:
        return locate_weights(app, env)
    if app.weights_file and (keras_cache_dir() / app.weights_file).is_file():
        return str(keras_cache_dir() / app.weights_file)
    return "imagenet"


def build_application(
    name: str,
    weights: str | os.PathLike | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    download: bool = True,
) -> tuple[Any, Application]:
    """(the Keras model with its ImageNet head, its Application). Raises ModelLoadError.

    weights: "imagenet" (a file named by $DIGITLENS_WEIGHTS_<NAME> or Keras' cache, else a
    download), a path to a weights file, or None (random weights: tests, shapes).
    input_shape: only with weights=None or a model that accepts it (tiny inputs in tests).
    download: False never touches the network; offline, a missing file is then an error.
    """
    keras = import_keras()

    app = application(name)
    source = locate_weights(app, weights)
    if source == "imagenet" and not download:
        raise _missing(app)
    kwargs: dict[str, Any] = {"weights": source}
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    try:
        # Keras says "Downloading data from ..." and draws its progress on stdout, where
        # `predict --json` writes one JSON object a line: both go to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            net = getattr(keras.applications, app.constructor)(**kwargs)
    except Exception as exc:  # offline download, a corrupt or mismatched weights file
        if source == "imagenet":  # (the download's own words, first line only)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            failed = textwrap.shorten(first, 160, placeholder=" ...")  # (at a word's end)
            raise _missing(app, f" (the download failed: {failed})") from exc
        raise ModelLoadError(f"cannot build {app.name} with weights {source}: {exc}") from exc
    return net, app


def _missing(app: Application, why: str = "") -> WeightsUnavailableError:
    where = keras_cache_dir() / (app.weights_file or f"<the {app.constructor} ImageNet .h5 file>")
    message = (
        f"the ImageNet weights of {app.name} are not on this machine: put the file at {where}, "
        f"or name it in ${weights_env(app)} (the command line's --weights PATH){why}"
    )
    return WeightsUnavailableError(message, app.name, str(where), weights_env(app))


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in output order (shipped with DigitLens, offline)."""
    names = json.loads(CLASS_NAMES_FILE.read_text())["class_names"]
    if len(names) != 1000:
        raise ModelLoadError(f"{CLASS_NAMES_FILE.name} holds {len(names)} names, not 1000")
    return tuple(names)


def scaling_of(app: Application) -> str:
    """The model's input scaling, in DigitLens' names (see model.input.photo)."""
    return canonical_scaling(app.scaling)
