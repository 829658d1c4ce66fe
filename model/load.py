"""`load_classifier`: one door to every model DigitLens can explain.

A bundled model by name, a Keras Applications model by name, or any `.keras` file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from model.classifier import DIGIT_SHAPE, Classifier, check_preprocessing
from model.errors import ModelLoadError, PreprocessingMismatchError
from model.input.photo import SCALINGS
from model.runtime.allocator import tune_allocator
from model.runtime.artifacts import Artifact, resolve
from model.runtime.backend import import_keras
from model.runtime.card import Card, Preprocessing
from model.runtime.loading import (
    check_contract,
    leading_rescaling,
    load_net,
    rescaled_note,
    rescaling_words,
    unit_input_net,
)
from model.runtime.runtimes import (
    ONNX_NAMES,
    RUNTIMES,
    KerasRuntime,
    OnnxRuntime,
    close_calls,
    onnx_path_for,
    variant_info,
)


def load_classifier(
    name_or_path: str | os.PathLike = "mnist-cnn",
    runtime: str = "auto",
    preprocessing: str | None = None,
    weights: str | os.PathLike | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    download: bool = True,
) -> Classifier:
    """Load a bundled model by name, a Keras Applications model by name (`mobilenet_v2`,
    `resnet50`, `efficientnet_b0`, any `keras.applications` name), or any `.keras` file
    (in safe mode).

    runtime: `auto` (the float ONNX export where one matches the `.keras` file, else
    Keras; a single input with its detector on LiteRT where a matching `<name>.tflite`
    measured faster at load, `model.runtime.litert`), `onnx` (ONNX Runtime only),
    `onnx-int8` or `onnx-fp16` (fail if that export is missing or stale), or `keras`
    (one compiled tf.function). ONNX runtimes never import TensorFlow.
    Keras Applications always run on Keras.
    preprocessing: overrides the card's (see `Classifier.preprocessing` and PREPROCESSINGS);
    a digit recipe for a model that does not take 28x28x1 inputs is refused
    (`PreprocessingMismatchError`).
    weights, input_shape, download: Keras Applications only (`model.runtime.applications`):
    weights=None gives random weights (tests), download=False never touches the network.
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    tune_allocator()  # image buffers reused, not page-faulted in on every request
    check_preprocessing(preprocessing)
    from model.runtime.applications import is_application
    from model.runtime.artifacts import BUNDLED

    if str(name_or_path) not in BUNDLED and is_application(str(name_or_path)):
        if runtime.startswith("onnx"):
            raise ModelLoadError(
                f"{name_or_path} runs on Keras only (no ONNX export); use runtime=keras or auto"
            )
        return _load_application(str(name_or_path), preprocessing, weights, input_shape, download)
    artifact = resolve(name_or_path)
    if runtime != "keras":
        onnx_runtime = "onnx" if runtime == "auto" else runtime
        path = onnx_path_for(artifact, onnx_runtime)
        if path is not None:
            # auto: single inputs on LiteRT where it measures faster (model.runtime.litert)
            litert_from = artifact.keras_path if runtime == "auto" else None
            rt = OnnxRuntime(
                path,
                name=ONNX_NAMES[onnx_runtime],
                litert_from=litert_from,
                close_calls=close_calls(artifact, onnx_runtime),
            )
            check_contract(rt.input_shape[1:], rt.output_shape[1:], path)
            clf = Classifier(artifact, None, rt, preprocessing)
            if clf.is_digit:  # (quantized variants are made from the float export)
                clf.input_note = (variant_info(artifact, "onnx") or {}).get("input_note")
            return _fitting(clf)
        if runtime != "auto":
            raise ModelLoadError(
                f"{artifact.name} has no {runtime} export matching its .keras file; "
                f"run: python -m model.runtime.export --model {name_or_path}"
                + ("" if runtime == "onnx" else " --quantize")
            )
    net = load_net(artifact.keras_path)
    clf = Classifier(artifact, net, KerasRuntime(net), preprocessing)
    if clf.is_digit and (unit := unit_input_net(net)) is not None:
        # (its first layer rescales 0..255: a digit recipe's 0..1 go in scaled by 255)
        clf = Classifier(artifact, unit, KerasRuntime(unit), preprocessing)
        clf.input_note = rescaled_note(net)
    elif not clf.is_digit and (rescaling := leading_rescaling(net)) is not None:
        clf = _levels_for_rescaling(clf, net, preprocessing, rescaling)
    return _fitting(clf)


def _levels_for_rescaling(
    clf: Classifier, net: Any, preprocessing: str | None, rescaling: tuple[float, float]
) -> Classifier:
    """A photo model whose first layer is a `Rescaling` of 0..255 levels (Keras' image
    classification tutorial writes one) gets them: 0-255, where neither its card nor the
    caller chose a scaling. It got 0-1 and saw every photo nearly black. A scaling chosen
    by hand stays, and where it is not 0-255 the note says what the layer expects."""
    layer = rescaling_words(rescaling)
    if preprocessing is None and not (clf.card.preprocessing and clf.card.preprocessing.scaling):
        clf = Classifier(clf.artifact, net, clf.runtime, "0-255")
        clf.input_note = f"{layer}: it gets the 0-255 scaling"
    elif clf.preprocessing != "0-255":
        clf.input_note = f"{layer}, not the {clf.preprocessing} scaling chosen: choose 0-255"
    return clf


def _fitting(clf: Classifier) -> Classifier:
    """`clf`, where its preprocessing makes inputs of its shape: a digit recipe chosen
    for a model that does not take 28x28 grey inputs is refused here, with what to do,
    instead of failing at its first image with a reshape error."""
    shape = clf.input_shape
    if clf.is_digit and shape != DIGIT_SHAPE:
        raise PreprocessingMismatchError(
            f"the preprocessing {clf.preprocessing!r} makes the 28x28 grey input of an "
            f"MNIST-style model, but {clf.name} takes {'x'.join(map(str, shape))}: choose "
            f"none (resized to its input, RGB 0-255 as they are) or a scaling "
            f"({', '.join(SCALINGS)})"
        )
    return clf


def _load_application(
    name: str,
    preprocessing: str | None,
    weights: str | os.PathLike | None,
    input_shape: tuple[int, int, int] | None,
    download: bool,
) -> Classifier:
    """A Keras Applications model with a card made on the spot (ImageNet names, scaling)."""
    from model.runtime.applications import build_application, imagenet_class_names, locate_weights

    import_keras()
    net, app = build_application(name, weights, input_shape, download)
    in_shape = tuple(net.inputs[0].shape[1:])
    out_shape = tuple(net.outputs[0].shape[1:])
    check_contract(in_shape, out_shape, Path(app.name))
    k = int(out_shape[-1])
    source = f"keras.applications.{app.constructor}"
    card = Card(
        name=app.name,
        dataset="imagenet",
        class_names=imagenet_class_names() if k == len(imagenet_class_names()) else (),
        preprocessing=Preprocessing(scaling=app.scaling),
        extra={
            "source": source,
            "weights": "random (weights=None)"
            if weights is None
            else str(locate_weights(app, weights)),
        },
    )
    # No file: the network lives in memory; `keras_path` names where it came from.
    artifact = Artifact(app.name, Path(source), card)
    return _fitting(Classifier(artifact, net, KerasRuntime(net), preprocessing))
