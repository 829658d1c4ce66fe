"""Explanations: why did the model read this digit this way?

One registry (`METHODS`) serves the API, the CLI, the server and the UI:

| name | what it computes | where it comes from |
| --- | --- | --- |
| `gradcam` | feature maps weighted by their mean gradient | our fused, compiled pass |
| `gradcam++` | Grad-CAM with higher-order pixel weights | tf-keras-vis |
| `scorecam` | feature maps weighted by the score they cause (faster, max_N=10) | tf-keras-vis |
| `layercam` | feature maps weighted by their positive gradients, per pixel | tf-keras-vis |
| `saliency` | absolute input gradient | tf-keras-vis |
| `smoothgrad` | saliency averaged over noisy copies | tf-keras-vis |

Class-activation methods read a convolutional layer (`conv1` ... `conv3`,
default `conv3`); the gradient methods work on any model, the MLP included.
Scores are taken on the logits (the softmax replaced by a linear output), as
tf-keras-vis' `ReplaceToLinear` does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from model.architecture import DEFAULT_CAM_LAYER, OUTPUT
from model.errors import ExplanationError
from model.preprocessing import Preprocessed

if TYPE_CHECKING:
    from model.inference import Classifier


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    needs_conv: bool
    description: str
    cost: str


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "gradcam",
            "Grad-CAM",
            True,
            "Weights each feature map of the layer by the average gradient of the class "
            "score and keeps the positive evidence.",
            "one forward+backward pass (~1.4x a prediction)",
        ),
        Method(
            "gradcam++",
            "Grad-CAM++",
            True,
            "Like Grad-CAM, but weights each location by higher-order gradients, which "
            "separates several pieces of evidence better.",
            "one pass, run eagerly",
        ),
        Method(
            "scorecam",
            "Score-CAM (faster)",
            True,
            "Masks the input with each of the 10 strongest feature maps and weights them by "
            "how much the class score rises: no gradients at all.",
            "11 forward passes",
        ),
        Method(
            "layercam",
            "Layer-CAM",
            True,
            "Weights every location of every feature map by its own positive gradient; "
            "sharper maps on early layers.",
            "one pass, run eagerly",
        ),
        Method(
            "saliency",
            "Saliency",
            False,
            "The absolute gradient of the class score for each input pixel: which pixels, "
            "changed a little, would change the score most.",
            "one backward pass",
        ),
        Method(
            "smoothgrad",
            "SmoothGrad",
            False,
            "Saliency averaged over 20 noisy copies of the input, which removes the "
            "speckle of raw gradients.",
            "20 backward passes",
        ),
    )
}
DEFAULT_METHOD = "gradcam"


@dataclass(frozen=True)
class Explanation:
    """A heatmap on the model input, and where possible on the original image."""

    method: str
    layer: str | None  # None for the gradient methods
    label: int
    class_name: str
    probability: float
    probabilities: np.ndarray  # (10,)
    heatmap: np.ndarray  # (28, 28) float32 in [0, 1] on the model input
    x: np.ndarray  # (28, 28) the model input that was explained
    stages: Preprocessed | None = None  # None when explaining a model-format input

    @property
    def heatmap_original(self) -> np.ndarray | None:
        """(H, W) float32 in [0, 1]: the map projected back onto the original image."""
        return None if self.stages is None else self.stages.project_back(self.heatmap)


def available_methods(clf: Classifier) -> list[str]:
    """The methods this model supports (the gradient ones only without convolutions)."""
    return [m.name for m in METHODS.values() if clf.conv_layers or not m.needs_conv]


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1]; an all-zero (or non-finite) map stays all zero."""
    maps = np.nan_to_num(np.asarray(maps, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    maps = np.maximum(maps, 0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1)[:, None, None]
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)


# ------------------------------------------------------------------ fused Grad-CAM


class FusedGradCAM:
    """Probabilities and the Grad-CAM map of one layer in one compiled GradientTape pass.

    The class score is the logit (pre-softmax) of the predicted class, or of
    `target` where given. The 7x7 (or 14x14, 28x28) map is upsampled to 28x28
    with the same linear `scipy.ndimage.zoom` that tf-keras-vis uses.
    """

    def __init__(self, net, layer: str):
        import keras
        import tensorflow as tf

        out_layer = (
            net.get_layer(OUTPUT) if OUTPUT in [ly.name for ly in net.layers] else net.layers[-1]
        )
        self._dense = isinstance(out_layer, keras.layers.Dense)
        head_input = out_layer.input if self._dense else net.output
        self._sub = keras.Model(net.inputs, [net.get_layer(layer).output, head_input])
        kernel, bias = (out_layer.kernel, out_layer.bias) if self._dense else (None, None)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 28, 28, 1], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ]
        )
        def run(x, target):
            with tf.GradientTape() as tape:
                # Watching the input records every op after it, so the map has gradients
                # even where layers are frozen (no trainable variables to watch).
                tape.watch(x)
                fmap, head = self._sub(x, training=False)  # (N, h, w, C), (N, D)
                if self._dense:
                    logits = tf.matmul(head, kernel) + bias  # (N, 10)
                else:
                    logits = tf.math.log(tf.maximum(head, 1e-12))
                probs = tf.nn.softmax(logits)
                target_ = tf.where(
                    target < 0, tf.argmax(logits, axis=1, output_type=tf.int32), target
                )
                score = tf.gather(logits, target_, batch_dims=1)  # (N,)
            grads = tape.gradient(score, fmap)  # (N, h, w, C)
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # (N, 1, 1, C)
            cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))  # (N, h, w)
            return probs, cam, target_

        self._run = run

    def __call__(
        self, x: np.ndarray, target: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (N, 28, 28, 1) -> probabilities (N, 10), maps (N, 28, 28) in [0, 1], targets (N,)."""
        x = np.asarray(x, np.float32).reshape(-1, 28, 28, 1)
        t = np.full(len(x), -1, np.int32) if target is None else np.asarray(target, np.int32)
        probs, cam, tgt = self._run(x, t)
        cam = cam.numpy()
        if cam.shape[1:] != (28, 28):
            cam = ndimage.zoom(cam, (1, 28 / cam.shape[1], 28 / cam.shape[2]), order=1)
        return probs.numpy(), _normalise(cam), tgt.numpy()


# ------------------------------------------------------------------ tf-keras-vis methods

_VIS_LOCK = threading.Lock()  # tf-keras-vis objects keep per-call state


def _vis_explainer(clf: Classifier, method: str):
    """The tf-keras-vis object for `method`, built once per classifier (it clones the model)."""
    key = ("vis", method)
    if key not in clf._explainers:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        cls = {
            "gradcam": Gradcam,
            "gradcam++": GradcamPlusPlus,
            "scorecam": Scorecam,
            "layercam": Layercam,
            "saliency": Saliency,
            "smoothgrad": Saliency,
        }[method]
        clf._explainers[key] = cls(clf.net, model_modifier=ReplaceToLinear(), clone=True)
    return clf._explainers[key]


def tf_keras_vis_map(
    clf: Classifier, x: np.ndarray, method: str, layer: str | None, target: int
) -> np.ndarray:
    """One (28, 28) map from tf-keras-vis, in [0, 1]."""
    from tf_keras_vis.utils.scores import CategoricalScore

    x = np.asarray(x, np.float32).reshape(1, 28, 28, 1)
    score = CategoricalScore([int(target)])
    with _VIS_LOCK:
        vis = _vis_explainer(clf, method)
        if method in ("saliency", "smoothgrad"):
            kwargs = {"smooth_samples": 20, "smooth_noise": 0.2} if method == "smoothgrad" else {}
            maps = vis(score, x, **kwargs)
        else:
            # seek_penultimate_conv_layer=False: otherwise tf-keras-vis silently moves
            # from `conv3` (a Concatenate) to the nearest Conv2D, one branch only.
            kwargs = {"max_N": 10} if method == "scorecam" else {}
            import keras

            keras.config.disable_interactive_logging()  # Score-CAM's model.predict bars
            try:
                maps = vis(
                    score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False, **kwargs
                )
            finally:
                keras.config.enable_interactive_logging()
    return _normalise(np.asarray(maps).reshape(1, 28, 28))[0]


# ------------------------------------------------------------------ entry point


def fused_gradcam(clf: Classifier, layer: str) -> FusedGradCAM:
    """The compiled Grad-CAM for `layer`, built once per classifier and layer."""
    key = ("fused", layer)
    if key not in clf._explainers:
        with clf._lock:
            if key not in clf._explainers:
                clf._explainers[key] = FusedGradCAM(clf.net, layer)
    return clf._explainers[key]


def check(clf: Classifier, method: str, layer: str | None) -> str | None:
    """Validate method and layer for this model; return the layer to use (None: no layer)."""
    if method not in METHODS:
        raise ExplanationError(
            f"unknown explanation method {method!r}; choose from {', '.join(METHODS)}"
        )
    if not METHODS[method].needs_conv:
        return None
    if not clf.conv_layers:
        raise ExplanationError(
            f"{METHODS[method].title} needs a convolutional layer and {clf.name} has none; "
            f"use one of: {', '.join(available_methods(clf))}"
        )
    layer = layer or DEFAULT_CAM_LAYER
    if layer not in clf.conv_layers:
        raise ExplanationError(
            f"unknown layer {layer!r} for {clf.name}; choose from {', '.join(clf.conv_layers)}"
        )
    return layer


def explain(
    clf: Classifier,
    source: Preprocessed | np.ndarray,
    method: str = DEFAULT_METHOD,
    layer: str | None = None,
    target: int | None = None,
) -> Explanation:
    """Explain one input (preprocessed stages, or a (28, 28) model-format array)."""
    layer = check(clf, method, layer)
    stages = source if isinstance(source, Preprocessed) else None
    x = stages.x if stages is not None else np.asarray(source, np.float32).reshape(28, 28)
    if method == "gradcam":
        probs, maps, tgt = fused_gradcam(clf, layer)(
            x[None], None if target is None else np.array([target])
        )
        probs, heatmap, label = probs[0], maps[0], int(tgt[0])
    else:
        probs = clf.probabilities(x[None])[0]
        label = int(np.argmax(probs)) if target is None else int(target)
        heatmap = tf_keras_vis_map(clf, x, method, layer, label)
    return Explanation(
        method, layer, label, clf.class_names[label], float(probs[label]), probs, heatmap, x, stages
    )


def overlay(
    image: np.ndarray, heatmap: np.ndarray, cmap: str = "jet", alpha: float = 0.45
) -> np.ndarray:
    """Blend a [0, 1] heatmap over an image: (H, W) or (H, W, 3) -> (H, W, 3) uint8 RGB.

    The heatmap is resized to the image; its weak parts fade out so the strokes
    underneath stay visible.
    """
    from matplotlib import colormaps
    from PIL import Image

    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    h, w = img.shape[:2]
    hm = np.asarray(heatmap, np.float32)
    if hm.shape != (h, w):
        hm = np.asarray(Image.fromarray(hm, mode="F").resize((w, h), Image.Resampling.BILINEAR))
    hm = np.clip(np.nan_to_num(hm), 0, 1)
    colour = colormaps[cmap](hm)[..., :3] * 255  # (H, W, 3)
    # Weak evidence (below 15 % of the peak) shows not at all, the rest increasingly.
    a = alpha * np.sqrt(np.clip((hm - 0.15) / 0.85, 0, 1))[..., None]
    return (img * (1 - a) + colour * a).round().astype(np.uint8)
