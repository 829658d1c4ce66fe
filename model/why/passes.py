"""Attribution maps computed by our own compiled passes over any Keras classifier.

Every function here is batched and model-agnostic: it takes inputs shaped like
the network's input, `(N, H, W, C)`, read from `net.inputs`, and returns raw,
non-negative maps `(N, H, W)` on the input grid (`model.why.attribution` scales them to
[0, 1]). A map explains the score

    logit[target] - logit[contrast]      (just logit[target] without a contrast)

so "why 9 and not 4?" is the same pass with another score. Scores are taken on
the logits (before the softmax), as tf-keras-vis' `ReplaceToLinear` does.

One `Passes` object holds the compiled `tf.function`s of one network, one per
layer: forward and backward in a single traced GradientTape call with a fixed
input signature, so any batch size runs without retracing.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import numpy as np
from scipy import ndimage

from model.errors import ExplanationError
from model.runtime.backend import compiled, import_keras
from model.runtime.graph import find_layer
from model.runtime.loading import source_of
from model.why.onnx_passes import OnnxPasses
from model.why.upsample import upsample, upsample_channels

#: Inputs per compiled call: big batches (Integrated Gradients' N x steps) are chunked.
CHUNK = 1024
#: `contrast` value meaning "no contrast class" inside the compiled pass.
NO_CLASS = -1


class Passes:
    """The compiled gradient passes of one Keras network, built lazily per layer.

    `gradients(x, target, contrast, layer)` returns the logits, the layer's
    feature maps and the gradient of the score with respect to them (`layer=None`:
    with respect to the input itself).

    The layer's output and the head's logits are read while the whole network runs
    (the layer's `call` is wrapped during tracing), not through a sub-model
    `Model(net.inputs, [layer.output, ...])`: that sub-model fails in Keras 3 for a
    layer inside a nested model (a backbone inside a classifier), while a recorded
    tensor works at any depth, in functional and Sequential models alike.
    """

    def __init__(self, net: Any):
        self.net = net
        #: The same passes exported to ONNX (`model.why.onnx_passes`), where this network
        #: object was loaded from a file that has them: run without TensorFlow's executor.
        self.exported = OnnxPasses.for_file(source_of(net))
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in net.inputs[0].shape[1:])
        self._head, self._head_kind = _head_of(net)
        self._fns: dict[str | None, Any] = {}

    # ---------------------------------------------------------------- compiled
    def _fn(self, layer: str | None):
        if layer in self._fns:
            return self._fns[layer]
        import tensorflow as tf

        net, head, kind = self.net, self._head, self._head_kind
        target_layer = None if layer is None else find_layer(net, layer)

        def run(x, target, contrast):
            with tf.GradientTape() as tape:
                # Watching the input records every op after it, so there are gradients
                # even where layers are frozen (no trainable variables to watch).
                tape.watch(x)
                with _recording(target_layer, head if kind != "probabilities" else None) as seen:
                    probs = net(x, training=False)
                fmap = x if layer is None else seen["layer"]  # (N, h, w, C)
                if kind == "dense":
                    logits = tf.matmul(seen["head"], head.kernel) + head.bias  # (N, K)
                elif kind == "activation":
                    logits = seen["head"]
                else:
                    logits = tf.math.log(tf.maximum(probs, 1e-12))
            # The score is logit[target] - logit[contrast]: its gradient with respect to the
            # logits is +1 at the target and -1 at the contrast class (none for NO_CLASS),
            # handed to the tape as theirs. (A score made by gathers gives the same
            # gradients, but its backward exports to ONNX with shape and scatter plumbing:
            # 379 nodes against 241 for the CNN's input pass, whose map then took 5 % longer
            # on ONNX Runtime (conv3's 19 %, the MLP's 80 %). ONNX's OneHot counts
            # -1 from the end where TensorFlow's gives zeros: hence the mask.)
            k = logits.shape[-1] or tf.shape(logits)[-1]  # (classes known when traced, or not)
            dtype = logits.dtype
            has_contrast = tf.cast(contrast >= 0, dtype)[:, None]
            other = tf.one_hot(tf.maximum(contrast, 0), k, dtype=dtype) * has_contrast
            upstream = tf.one_hot(target, k, dtype=dtype) - other
            grads = tape.gradient(logits, fmap, output_gradients=upstream)
            return logits, fmap, grads

        run = compiled(  # (one per network and layer: not "retracing" in the logs)
            run,
            [
                tf.TensorSpec([None, *self.input_shape], tf.float32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
            ],
        )

        with TRACE_LOCK:  # the wrapped `call`s exist only while this traces
            run.get_concrete_function()
        self._fns[layer] = run
        return run

    def gradients(
        self,
        x: np.ndarray,
        target: np.ndarray,
        contrast: np.ndarray | None = None,
        layer: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (N, H, W, C) -> logits (N, K), feature maps (N, h, w, c), score gradients (same)."""
        x = np.asarray(x, np.float32).reshape(-1, *self.input_shape)
        t = np.asarray(target, np.int32).reshape(-1)
        c = (
            np.full(len(x), NO_CLASS, np.int32)
            if contrast is None
            else np.asarray(contrast, np.int32).reshape(-1)
        )
        self._check_classes(t, c)
        exported = self.exported
        if exported is not None and exported.serves(layer, min(len(x), CHUNK)):
            run = lambda xb, tb, cb: exported.gradients(xb, tb, cb, layer)  # noqa: E731
        else:
            fn = self._fn(layer)
            run = lambda xb, tb, cb: [r.numpy() for r in fn(xb, tb, cb)]  # noqa: E731
        parts = [
            run(x[i : i + CHUNK], t[i : i + CHUNK], c[i : i + CHUNK])
            for i in range(0, len(x), CHUNK)
        ]
        if len(parts) == 1:  # (one chunk, a map's usual call: no copy)
            return tuple(parts[0])  # type: ignore[return-value]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]

    def _check_classes(self, target: np.ndarray, contrast: np.ndarray) -> None:
        """Raise ExplanationError for a class the network does not have: a one-hot of it
        would be all zeros (a blank map that looks like an answer), and ONNX's OneHot would
        read -1 as the last class where TensorFlow's gives zeros."""
        k = self.net.outputs[0].shape[-1]
        if k is None:  # (classes unknown until run: TensorFlow's one-hot decides)
            return
        bad = (
            (target < 0)
            | (target >= k)
            | ((contrast != NO_CLASS) & ((contrast < 0) | (contrast >= k)))
        )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ExplanationError(
                f"classes must be indices from 0 to {k - 1} (no contrast: {NO_CLASS}); "
                f"got target {int(target[i])}, contrast {int(contrast[i])}"
            )

    def logits(self, x: np.ndarray) -> np.ndarray:
        """x (N, H, W, C) -> logits (N, K)."""
        x = np.asarray(x, np.float32).reshape(-1, *self.input_shape)
        zeros = np.zeros(len(x), np.int32)
        # An exported layer's pass where there is one: its backward stops at that layer
        # (Score-CAM's masked inputs: 11 at a time, beyond the input pass' batch limit).
        layer = self.exported.layer if self.exported is not None else None
        return self.gradients(x, zeros, None, layer)[0]


TRACE_LOCK = threading.Lock()


def _head_of(net: Any) -> tuple[Any, str]:
    """The layer whose input is the logits, and how to read them (ReplaceToLinear):
    `dense` (a softmax Dense: logits recomputed from its input), `activation` (a softmax
    Activation: its input is the logits) or `probabilities` (log of the outputs)."""
    keras = import_keras()

    out = net.layers[-1]
    while getattr(out, "layers", None):  # the head of a nested model (Sequential([base]))
        out = out.layers[-1]
    act = getattr(out, "activation", None)
    softmax = act is not None and getattr(act, "__name__", "") == "softmax"
    if isinstance(out, keras.layers.Dense) and softmax:
        return out, "dense"
    if isinstance(out, keras.layers.Activation) and softmax:
        return out, "activation"
    if isinstance(out, keras.layers.Softmax):
        return out, "activation"
    return out, "probabilities"


@contextmanager
def _recording(layer: Any, head: Any):
    """While tracing: record `layer`'s output and `head`'s input in the returned dict."""
    seen: dict[str, Any] = {}
    wrapped = []

    def wrap(obj: Any, key: str, take_input: bool) -> None:
        original = obj.call

        def call(*args, **kwargs):
            out = original(*args, **kwargs)
            seen[key] = args[0] if take_input else out
            return out

        object.__setattr__(obj, "call", call)  # bypass Keras' attribute tracking
        wrapped.append(obj)

    try:
        if layer is not None:
            wrap(layer, "layer", False)
        if head is not None:
            if head is layer:
                raise ValueError("the explained layer cannot be the classification head")
            wrap(head, "head", True)
        yield seen
    finally:
        for obj in wrapped:
            object.__delattr__(obj, "call")


# -------------------------------------------------------------------- helpers


def _hw(p: Passes) -> tuple[int, int]:
    return p.input_shape[0], p.input_shape[1]


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# -------------------------------------------------------------------- CAM family
# Each takes the layer's feature maps A (N, h, w, C) and score gradients G (same shape).


def gradcam(p: Passes, x, target, contrast, layer: str) -> np.ndarray:
    """Grad-CAM (Selvaraju 2017): feature maps weighted by their mean gradient."""
    _, a, g = p.gradients(x, target, contrast, layer)
    w = g.mean(axis=(1, 2), keepdims=True)  # (N, 1, 1, C)
    return upsample(_relu((w * a).sum(-1)), _hw(p))


def gradcam_plus_plus(p: Passes, x, target, contrast, layer: str) -> np.ndarray:
    """Grad-CAM++ (Chattopadhay 2018), with the exponential-score closed form.

    alpha = g^2 / (2 g^2 + sum(A) g^3); the exp(score) factors cancel in alpha
    and scale each map by a positive constant, which the [0, 1] scaling removes.
    """
    _, a, g = p.gradients(x, target, contrast, layer)
    g2, g3 = g**2, g**3
    denom = 2.0 * g2 + g3 * a.sum(axis=(1, 2), keepdims=True)
    denom = denom + (g2 == 0.0)
    alphas = g2 / denom
    norm = alphas.sum(axis=(1, 2), keepdims=True)
    alphas = alphas / (norm + (norm == 0.0))
    w = (_relu(g) * alphas).sum(axis=(1, 2), keepdims=True)  # (N, 1, 1, C)
    return upsample(_relu((w * a).sum(-1)), _hw(p))


def hirescam(p: Passes, x, target, contrast, layer: str) -> np.ndarray:
    """HiResCAM (Draelos 2020): gradient times feature map at each location, summed."""
    _, a, g = p.gradients(x, target, contrast, layer)
    return upsample(_relu((g * a).sum(-1)), _hw(p))


def layercam(p: Passes, x, target, contrast, layer: str) -> np.ndarray:
    """Layer-CAM (Jiang 2021): positive gradients times feature maps, per location."""
    _, a, g = p.gradients(x, target, contrast, layer)
    return upsample(_relu((_relu(g) * a).sum(-1)), _hw(p))


def scorecam(p: Passes, x, target, contrast, layer: str, max_n: int = 10) -> np.ndarray:
    """Score-CAM (Wang 2020), the "faster" variant: the `max_n` feature maps with the
    largest spatial spread mask the input; each weighs by the class probability it
    yields. All N x max_n masked inputs run in one batched call.
    """
    x = np.asarray(x, np.float32).reshape(-1, *p.input_shape)
    _, a, _ = p.gradients(x, target, contrast, layer)  # (N, h, w, C)
    n, h, w, c = a.shape
    k = min(max_n, c) if max_n and max_n > 0 else c
    top = np.argsort(-a.reshape(n, h * w, c).std(axis=1), axis=1)[:, :k]  # (N, k)
    sel = np.take_along_axis(a, top[:, None, None, :], axis=3)  # (N, h, w, k)
    up = upsample_channels(sel, _hw(p))  # (N, H, W, k)
    lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
    masks = (up - lo) / (hi - lo + 1e-7)  # (N, H, W, k) in [0, 1]
    masked = x[:, None] * np.moveaxis(masks, -1, 1)[..., None]  # (N, k, H, W, C)
    probs = _softmax(p.logits(masked.reshape(-1, *p.input_shape))).reshape(n, k, -1)
    t = np.asarray(target).reshape(-1)
    weights = probs[np.arange(n), :, t]  # (N, k)
    if contrast is not None:
        weights = weights - probs[np.arange(n), :, np.asarray(contrast).reshape(-1)]
    return upsample(_relu((sel * weights[:, None, None, :]).sum(-1)), _hw(p))


# -------------------------------------------------------------------- input gradients


def saliency(p: Passes, x, target, contrast, layer: None = None) -> np.ndarray:
    """Saliency (Simonyan 2014): the absolute input gradient, max over channels."""
    _, _, g = p.gradients(x, target, contrast, None)
    return np.abs(g).max(axis=-1)


def smoothgrad(
    p: Passes,
    x,
    target,
    contrast,
    layer: None = None,
    samples: int = 20,
    noise: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    """SmoothGrad (Smilkov 2017): saliency averaged over noisy copies, one batched call.

    Noise: Gaussian with sigma = `noise` x (max - min) of each input; seeded, so
    the same input always gives the same map.
    """
    x = np.asarray(x, np.float32).reshape(-1, *p.input_shape)
    n = len(x)
    span = np.ptp(x.reshape(n, -1), axis=1).reshape(n, *[1] * x.ndim)  # (N, 1, 1, 1, 1)
    rng = np.random.default_rng(seed)
    shape = (n, samples, *p.input_shape)
    noisy = x[:, None] + rng.normal(size=shape).astype(np.float32) * (noise * span)
    rep = lambda v: None if v is None else np.repeat(np.asarray(v).reshape(-1), samples)  # noqa: E731
    _, _, g = p.gradients(noisy.reshape(-1, *p.input_shape), rep(target), rep(contrast), None)
    return np.abs(g).reshape(n, samples, *p.input_shape).mean(axis=1).max(axis=-1)


def gradient_x_input(p: Passes, x, target, contrast, layer: None = None) -> np.ndarray:
    """Gradient x input (Shrikumar 2016): the first-order effect of blacking out each pixel."""
    x = np.asarray(x, np.float32).reshape(-1, *p.input_shape)
    _, _, g = p.gradients(x, target, contrast, None)
    return _relu((g * x).sum(-1))


#: Gaussian sigma of the blurred baseline, as a fraction of the input's side.
BLUR_SIGMA_FRACTION = 0.2


def baseline_for(x: np.ndarray, kind: str) -> np.ndarray:
    """The reference input Integrated Gradients starts from: `black` or `blur`."""
    if kind == "black":
        return np.zeros_like(x)
    if kind == "blur":
        sigma = BLUR_SIGMA_FRACTION * x.shape[1]
        return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0)).astype(np.float32)
    raise ValueError(f"unknown baseline {kind!r}; choose black or blur")


def integrated_gradients(
    p: Passes, x, target, contrast, layer: None = None, steps: int = 32, baseline: str = "black"
) -> np.ndarray:
    """Integrated Gradients (Sundararajan 2017): gradients along the straight path from a
    baseline to the input (midpoint rule, `steps` points, one batched call), times the
    input minus the baseline; the positive part, summed over channels.
    """
    x = np.asarray(x, np.float32).reshape(-1, *p.input_shape)
    n = len(x)
    b = baseline_for(x, baseline)
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    path = b[:, None] + alphas[None, :, None, None, None] * (x - b)[:, None]  # (N, S, H, W, C)
    rep = lambda v: None if v is None else np.repeat(np.asarray(v).reshape(-1), steps)  # noqa: E731
    _, _, g = p.gradients(path.reshape(-1, *p.input_shape), rep(target), rep(contrast), None)
    avg = g.reshape(n, steps, *p.input_shape).mean(axis=1)
    return _relu((avg * (x - b)).sum(-1))
