"""Explanations: why did the model read this input this way?

One registry (`METHODS`) serves the API, the CLI, the server and the UI. An entry is
the whole method: its name, title, whether it reads a convolutional layer, its
parameters (as data the front ends can show), its compute function (from
`model.why.passes`, batched over `(N, H, W, C)`), a description and its cost. Adding a
method is one entry here and one test. The compiled passes of each network are cached
here, per network object: a model loaded once is traced once (or runs its ONNX export);
a modified (e.g. randomised) copy of a network gets its own passes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from model.errors import ExplanationError
from model.input.preprocessing import Preprocessed
from model.runtime.graph import find_layer, output_shape
from model.why import passes as attr
from model.why.defaults import measured
from model.why.explanation import Explanation

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.input.photo import PhotoInput

#: The layer a class-activation method reads when none is named: the last spatial map
#: of the reference CNN (the concatenation of both branches).
DEFAULT_CAM_LAYER = "conv3"
#: Used where a model's card names no measured default (e.g. a user's own .keras file).
FALLBACK_METHOD = "gradcam"
#: ... and for a model without convolutions.
FALLBACK_GRADIENT_METHOD = "integrated_gradients"


@dataclass(frozen=True)
class Method:
    """One explanation method: everything a front end needs to offer and run it."""

    name: str
    title: str
    needs_conv: bool
    compute: Callable[..., np.ndarray]  # (Passes, x, target, contrast, layer, **params) -> maps
    description: str
    cost: str
    params: Mapping[str, Any] = field(default_factory=dict)  # defaults; overridable per call
    #: The map is the input times something: zero wherever the input is zero (black).
    multiplies_input: bool = False


def _entries(*methods: Method) -> Mapping[str, Method]:
    return MappingProxyType({m.name: m for m in methods})


METHODS: Mapping[str, Method] = _entries(
    Method(
        "gradcam",
        "Grad-CAM",
        True,
        attr.gradcam,
        "Weights each feature map of the layer by the average gradient of the class "
        "score and keeps the positive evidence.",
        "one forward+backward pass",
    ),
    Method(
        "gradcam++",
        "Grad-CAM++",
        True,
        attr.gradcam_plus_plus,
        "Like Grad-CAM, but weights each location by higher-order gradients, which "
        "separates several pieces of evidence better.",
        "one forward+backward pass",
    ),
    Method(
        "hirescam",
        "HiResCAM",
        True,
        attr.hirescam,
        "Multiplies each feature map by its own gradient, location by location, and "
        "sums: the layer's exact share of the score, without Grad-CAM's averaging.",
        "one forward+backward pass",
    ),
    Method(
        "layercam",
        "Layer-CAM",
        True,
        attr.layercam,
        "Weights every location of every feature map by its own positive gradient; "
        "sharper maps on early layers.",
        "one forward+backward pass",
    ),
    Method(
        "scorecam",
        "Score-CAM (faster)",
        True,
        attr.scorecam,
        "Masks the input with each of the 10 most varied feature maps and weights them by "
        "the class probability each mask leaves: no gradients at all.",
        "one pass + 10 masked forward passes, in one batch",
        MappingProxyType({"max_n": 10}),
    ),
    Method(
        "saliency",
        "Saliency",
        False,
        attr.saliency,
        "The absolute gradient of the class score for each input pixel: which pixels, "
        "changed a little, would change the score most.",
        "one forward+backward pass",
    ),
    Method(
        "smoothgrad",
        "SmoothGrad",
        False,
        attr.smoothgrad,
        "Saliency averaged over 20 noisy copies of the input, which removes the "
        "speckle of raw gradients.",
        "20 forward+backward passes, in one batch",
        MappingProxyType({"samples": 20, "noise": 0.2}),
    ),
    Method(
        "gradient_x_input",
        "Gradient x Input",
        False,
        attr.gradient_x_input,
        "Each pixel's gradient times its value: how much the score would drop, to first "
        "order, if that pixel were blacked out.",
        "one forward+backward pass",
        multiplies_input=True,
    ),
    Method(
        "integrated_gradients",
        "Integrated Gradients",
        False,
        attr.integrated_gradients,
        "Adds up the gradients along the way from a black image to the input: each "
        "pixel's share of the score, and the shares sum to the score's change.",
        "32 forward+backward passes, in one batch",
        MappingProxyType({"steps": 32, "baseline": "black"}),
        multiplies_input=True,
    ),
)


# -------------------------------------------------------------------- the cache

_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PASSES_LOCK = threading.Lock()


def passes_for(net: Any) -> attr.Passes:
    """The compiled passes of `net`, built once per network object (thread-safe)."""
    with _PASSES_LOCK:
        p = _PASSES.get(net)
        if p is None:
            p = _PASSES[net] = attr.Passes(net)
        return p


# -------------------------------------------------------------------- choices


def available_methods(clf: Classifier) -> list[str]:
    """The methods this model supports (the input-gradient ones only without convolutions)."""
    return [m.name for m in METHODS.values() if clf.conv_layers or not m.needs_conv]


def default_cam_layer(clf: Classifier) -> str:
    """conv3 where the model has it, else the model's own choice (`Classifier.default_layer`:
    the last spatial map bigger than 1x1)."""
    return DEFAULT_CAM_LAYER if DEFAULT_CAM_LAYER in clf.conv_layers else clf.default_layer


def default_method(clf: Classifier) -> tuple[str, str | None]:
    """(method, layer) measured best for this model: by its card, else on its own inputs
    (`model.why.choice`), else a fixed fallback."""
    found = measured(clf)
    for chosen in (clf.card.default_explanation, found.to_dict() if found else {}):
        method, layer = chosen.get("method"), chosen.get("layer")
        if method in METHODS and method in available_methods(clf):
            if not METHODS[method].needs_conv:
                return method, None
            if layer in clf.conv_layers:
                return method, layer
    if clf.conv_layers:
        return FALLBACK_METHOD, default_cam_layer(clf)
    return FALLBACK_GRADIENT_METHOD, None


def check(clf: Classifier, method: str | None, layer: str | None) -> tuple[str, str | None]:
    """Validate method and layer for this model; return (method, layer to use).

    A named layer must be one of the model's spatial layers, and the method (or the
    model's default) one that reads a layer: otherwise the layer would be ignored and
    the answer a map that was not asked for.
    """
    if method is not None and method not in METHODS:
        # (a URL's unencoded "+" arrives as a space: "gradcam  ", a user test)
        plus = method.replace(" ", "+")
        hint = (
            f" (in a URL, write {plus!r} as {plus.replace('+', '%2B')!r}: a bare + is a space)"
            if plus in METHODS
            else ""
        )
        raise ExplanationError(
            f"unknown explanation method {method!r}; choose from {', '.join(METHODS)}{hint}"
        )
    if layer is not None and layer not in clf.conv_layers:
        raise ExplanationError(unknown_layer(clf, layer))
    if method is None:
        dm, dl = default_method(clf)
        if layer is not None and not METHODS[dm].needs_conv:
            raise ExplanationError(reads_no_layer(clf, dm, f" (the default for {clf.name})"))
        return dm, layer or dl
    if not METHODS[method].needs_conv:
        if layer is not None:
            raise ExplanationError(reads_no_layer(clf, method))
        return method, None
    if not clf.conv_layers:
        raise ExplanationError(
            f"{METHODS[method].title} needs a convolutional layer and {clf.name} has none; "
            f"use one of: {', '.join(available_methods(clf))}"
        )
    return method, layer or default_cam_layer(clf)


def reads_no_layer(clf: Classifier, method: str, which: str = "") -> str:
    """The message for a layer named with a method that reads none (the map would not be
    of that layer): it names the methods that read one."""
    readers = [m for m in available_methods(clf) if METHODS[m].needs_conv]
    return f"{METHODS[method].title}{which} reads no layer; a layer goes with {', '.join(readers)}"


def unknown_layer(clf: Classifier, layer: str) -> str:
    """The message for a layer `clf` does not have: it names the layers it has."""
    if not clf.conv_layers:
        return f"unknown layer {layer!r}: {clf.name} has no spatial layers to explain"
    return f"unknown layer {layer!r} for {clf.name}; choose from {', '.join(clf.conv_layers)}"


def check_classes(
    clf: Classifier, target: int | None, contrast: int | None
) -> tuple[int | None, int | None]:
    """(target, contrast) as ints; refuses one outside the classes, or the same class
    twice: wrong for every input (a run over many inputs checks them once, up front)."""
    k = len(clf.class_names)
    target, contrast = _check_class(target, k, "target"), _check_class(contrast, k, "contrast")
    if target is not None and target == contrast:
        raise ExplanationError(f"contrast and target are the same class ({target})")
    return target, contrast


def _check_class(value: int | None, n: int, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, (int, np.integer)) or not 0 <= int(value) < n:
        raise ExplanationError(f"{what} must be a class index from 0 to {n - 1}, not {value!r}")
    return int(value)


# -------------------------------------------------------------------- computing


def is_stages(source: Any) -> bool:
    """A prepared input with a way back to the original image: the digit pipeline's
    `Preprocessed` or a photo's `model.input.photo.PhotoInput` (both have .x, .original and
    .project_back)."""
    return isinstance(source, Preprocessed) or (
        hasattr(source, "project_back") and hasattr(source, "original") and hasattr(source, "x")
    )


def normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1]; an all-zero (or non-finite) map stays all zero."""
    maps = np.asarray(maps, np.float32)  # (nan_to_num copies every map: only where needed)
    finite = maps if np.isfinite(maps).all() else np.nan_to_num(maps, posinf=0.0, neginf=0.0)
    maps = np.maximum(finite, 0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, *[1] * (maps.ndim - 1))
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)


def compute_maps(
    net: Any,
    x: np.ndarray,
    method: str,
    layer: str | None,
    target: np.ndarray,
    contrast: np.ndarray | None = None,
    **params: Any,
) -> np.ndarray:
    """Maps for a batch: x (N, H, W[, C]) on `net` -> (N, H, W) float32 in [0, 1]. Runs on
    the Keras network itself (modified copies too: the sanity check's), or on the passes
    its file exported to ONNX (`model.why.onnx_passes`, equal to 1e-4)."""
    m = METHODS[method]
    p = passes_for(net)
    x = np.asarray(x, np.float32).reshape(-1, *p.input_shape)
    kwargs = {**m.params, **params}
    return normalise(m.compute(p, x, target, contrast, layer, **kwargs))


def native_hw(net: Any, layer: str | None) -> tuple[int, int]:
    """The resolution a map on `layer` has before upsampling (the input's for None)."""
    shape = (
        tuple(net.inputs[0].shape[1:]) if layer is None else output_shape(find_layer(net, layer))
    )
    return int(shape[0]), int(shape[1])


def explain(
    clf: Classifier,
    source: Preprocessed | PhotoInput | np.ndarray,
    method: str | None = None,
    layer: str | None = None,
    target: int | None = None,
    contrast: int | None = None,
) -> Explanation:
    """Explain one input (preprocessed stages, or a model-format array).

    method/layer None: the model's measured default (`default_method`). target:
    the class to explain (default: the prediction); contrast: a class to argue
    against, which maps logit[target] - logit[contrast].
    """
    method, layer = check(clf, method, layer)
    target, contrast = check_classes(clf, target, contrast)
    stages = source if is_stages(source) else None
    p = passes_for(clf.net)
    shape = p.input_shape
    x = stages.x if stages is not None else np.asarray(source, np.float32)
    if x.size != int(np.prod(shape)):
        raise ExplanationError(f"the input has {x.shape} values; {clf.name} takes {shape}")
    x = np.asarray(x, np.float32).reshape(shape)
    probs = clf.probabilities(x[None])[0]
    label = int(np.argmax(probs)) if target is None else target
    if contrast == label:
        raise ExplanationError(f"contrast and target are the same class ({label})")
    heatmap = compute_maps(
        clf.net,
        x[None],
        method,
        layer,
        np.array([label]),
        None if contrast is None else np.array([contrast]),
    )[0]
    return Explanation(
        method=method,
        layer=layer,
        label=label,
        class_name=clf.class_names[label],
        probability=float(probs[label]),
        probabilities=probs,
        heatmap=heatmap,
        x=x[..., 0] if shape[-1] == 1 else x,
        stages=stages,
        contrast=contrast,
        contrast_name=None if contrast is None else clf.class_names[contrast],
        empty=not bool(heatmap.max() > 0),
        native_hw=native_hw(clf.net, layer),
    )
