"""The Classifier: preprocessing, fast prediction and explanations behind one object.

    from model import load_classifier
    clf = load_classifier("mnist-cnn")
    clf.predict("seven.png").label

The `.keras` file is the source of truth. Where an ONNX export of exactly that
file lies beside it (the card records the `.keras` file's SHA-256), prediction
runs on ONNX Runtime without importing TensorFlow; otherwise on one compiled
`tf.function`. Never on `model.predict` (tens of ms a call). Quantized exports
(`<name>.int8.onnx`, `<name>.fp16.onnx`) are chosen with `runtime=`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from model.architecture import conv_layer_names, public_conv_layers
from model.artifacts import Artifact, keras_layer_names, load_keras_model, resolve
from model.backend import import_keras
from model.errors import ModelLoadError
from model.ood import Judge, Verdict, load_judge
from model.preprocessing import (
    MAX_PIXELS,
    ImageInput,
    Preprocessed,
    preprocess_stages,
)

if TYPE_CHECKING:
    import keras

    from model.explain import Explanation

#: Overrides the ONNX Runtime thread count for batches (default: every core).
THREADS_ENV = "DIGITLENS_THREADS"
#: What `load_classifier(runtime=...)` accepts. `auto`: the float ONNX export where one
#: matches the `.keras` file, else Keras.
RUNTIMES = ("auto", "onnx", "onnx-int8", "onnx-fp16", "keras")
#: The ONNX file of each ONNX runtime, by what goes between the model name and `.onnx`.
ONNX_VARIANTS = {"onnx": "", "onnx-int8": ".int8", "onnx-fp16": ".fp16"}


def default_threads() -> int:
    """Intra-op threads for batches: $DIGITLENS_THREADS, else one per core of this machine."""
    return int(os.environ.get(THREADS_ENV) or os.cpu_count() or 1)


@dataclass(frozen=True)
class Prediction:
    """What the model reads in one image, and whether to believe it (see model/ood.py)."""

    label: int
    probability: float
    probabilities: np.ndarray  # (10,) float32, sums to 1
    class_name: str
    verdict: Verdict = "digit"  # "digit", "unsure" or "not_a_digit"
    ood_score: float = 0.0  # higher = less like the training data
    reason: str | None = None  # a sentence for a person; None for a plain answer

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "class_name": self.class_name,
            "probability": self.probability,
            "probabilities": [float(p) for p in self.probabilities],
            "verdict": self.verdict,
            "ood_score": round(self.ood_score, 4),
            "reason": self.reason,
        }


def format_probability(p: float, decimals: int = 1) -> str:
    """A probability as people should read it: never "100.0 %" or "0.0 %" when it is not.

    0.99996 -> "> 99.9 %", 0.00004 -> "< 0.1 %", 0.873 -> "87.3 %". A softmax is never
    exactly 1 or 0, even where float32 rounds it there.
    """
    step = 10.0 ** -(decimals + 2)  # the smallest change shown, as a probability
    if p >= 1 - step / 2:
        return f"> {100 - 100 * step:.{decimals}f} %"
    if p < step / 2:
        return f"< {100 * step:.{decimals}f} %"
    return f"{100 * p:.{decimals}f} %"


class Runtime(Protocol):
    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28, 1) float32 -> (N, 10) float32 probabilities, in one call."""


class KerasRuntime:
    """One traced `tf.function` with a fixed signature: no retracing for any batch size."""

    name = "tf.function"

    def __init__(self, net: keras.Model):
        import_keras()
        import tensorflow as tf

        self._fn = tf.function(
            lambda x: net(x, training=False),
            input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(x).numpy()


class OnnxRuntime:
    """ONNX Runtime; `run` is thread-safe, so one instance serves every thread.

    Two sessions of the same file: a single-threaded one for small inputs (no thread
    pool to wake) and a multi-threaded one for batches. Neither busy-waits between
    calls, so idle inference threads never take the cores that decoding and the web
    server need.
    """

    SMALL = 4  # inputs up to this many go to the single-threaded session

    def __init__(self, path: Path, threads: int | None = None, name: str = "onnxruntime"):
        import onnxruntime as ort

        def session(n_threads: int):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = n_threads
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

        self.name = name
        self.path = Path(path)
        self._small = session(1)
        n = threads or default_threads()
        self._batch = self._small if n == 1 else session(n)
        inp, out = self._small.get_inputs()[0], self._small.get_outputs()[0]
        self._input = inp.name
        # Dimensions as ONNX states them: None or a name for a free batch dimension.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.output_shape = tuple(d if isinstance(d, int) else None for d in out.shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        s = self._small if len(x) <= self.SMALL else self._batch
        return s.run(None, {self._input: x})[0]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def variant_path(keras_path: Path, runtime: str, suffix: str = ".onnx") -> Path:
    """`<name><variant>.onnx` (or the variant's `.json` sidecar) beside the `.keras` file."""
    return keras_path.with_name(keras_path.stem + ONNX_VARIANTS[runtime] + suffix)


def variant_info(artifact: Artifact, runtime: str = "onnx") -> dict | None:
    """What is recorded about an ONNX runtime: the card's `runtimes.onnx` entry for the
    float export, a `<name>.<variant>.json` sidecar for quantized ones (so they never
    need the card edited)."""
    if runtime == "onnx":
        return artifact.card.get("runtimes", {}).get("onnx")
    sidecar = variant_path(artifact.keras_path, runtime, ".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def onnx_path_for(artifact: Artifact, runtime: str = "onnx") -> Path | None:
    """The ONNX file for `runtime` beside the `.keras` file, if made from exactly this file."""
    info = variant_info(artifact, runtime)
    if not info:
        return None
    path = artifact.keras_path.parent / info["file"]
    if not path.is_file() or info.get("keras_sha256") != file_sha256(artifact.keras_path):
        return None
    return path


def _load_net(path: Path) -> keras.Model:
    """The Keras network of a `.keras` file (safe mode), checked against our contract."""
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
    _check_contract(in_shape, out_shape, path)
    return net


@dataclass(init=False, eq=False)
class Classifier:
    """A loaded model with its card; thread-safe for prediction.

    The Keras network (`net`) loads on first use: prediction on ONNX Runtime never
    imports TensorFlow; explanations, the Keras runtime and exports do.
    """

    artifact: Artifact
    runtime: Runtime

    def __init__(self, artifact: Artifact, net: keras.Model | None, runtime: Runtime):
        self.artifact, self.runtime, self._net = artifact, runtime, net
        self._net_lock = threading.Lock()

    @property
    def net(self) -> keras.Model:
        """The Keras network, loaded (TensorFlow imported) on first use."""
        if self._net is None:
            with self._net_lock:
                if self._net is None:
                    self._net = _load_net(self.artifact.keras_path)
        return self._net

    # -------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return self.artifact.name

    @property
    def card(self) -> dict:
        return self.artifact.card

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.artifact.class_names

    @property
    def recipe(self) -> str:
        return self.artifact.preprocessing

    @cached_property
    def judge(self) -> Judge:
        """Decides each prediction's verdict: the model's detector, else a post-hoc score."""
        return load_judge(self.artifact.keras_path, self.class_names, self.card)

    @cached_property
    def conv_layers(self) -> tuple[str, ...]:
        """The public convolutional layers this model offers for explanations (read from
        the `.keras` file's config while the network is not loaded: no TensorFlow)."""
        if self._net is not None:
            return conv_layer_names(self._net)
        return public_conv_layers(keras_layer_names(self.artifact.keras_path))

    # -------------------------------------------------------------- inputs
    def preprocess_stages(self, image: ImageInput, max_pixels: int = MAX_PIXELS) -> Preprocessed:
        """Every preprocessing stage for `image`, with this model's recipe."""
        return preprocess_stages(image, self.recipe, max_pixels)

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """(28, 28) float32 in [0, 1]: what the model sees."""
        return self.preprocess_stages(image).x

    # -------------------------------------------------------------- prediction
    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28[, 1]) model-format inputs -> (N, 10) probabilities, in one call."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        if len(x) == 0:
            return np.zeros((0, 10), np.float32)
        return np.asarray(self.runtime(x), dtype=np.float32)

    def to_prediction(self, probs: np.ndarray, x: np.ndarray | None = None) -> Prediction:
        """A Prediction from (10,) probabilities and, for the detector, the (28, 28) input.

        Without `x` the verdict falls back to the post-hoc score (see model/ood.py).
        """
        return self.to_predictions(np.asarray(probs)[None], None if x is None else x[None])[0]

    def to_predictions(self, probs: np.ndarray, x: np.ndarray | None = None) -> list[Prediction]:
        """(N, 10) probabilities and the (N, 28, 28) inputs -> N Predictions (one detector call)."""
        probs = np.asarray(probs, np.float32)
        judge = self.judge
        detector = judge.detector is not None and x is not None
        scores = judge.scores(x, probs)
        out = []
        for p, score in zip(probs, scores, strict=True):
            label = int(np.argmax(p))
            verdict, reason = judge.verdict(float(score), p, detector)
            out.append(
                Prediction(
                    label,
                    float(p[label]),
                    p,
                    self.class_names[label],
                    verdict,
                    float(score),
                    reason,
                )
            )
        return out

    def predict_input(self, x: np.ndarray) -> Prediction:
        """Predict a (28, 28) input already in model format (e.g. a test-set image)."""
        x = np.asarray(x, np.float32).reshape(28, 28)
        return self.to_prediction(self.probabilities(x)[0], x)

    def predict(self, image: ImageInput) -> Prediction:
        """Preprocess and predict one image. Raises ImageError / BlankImageError (a dot or a
        tap: TooSmallError)."""
        return self.predict_input(self.preprocess(image))

    def predict_batch(self, images: Sequence[ImageInput]) -> list[Prediction]:
        """Preprocess each image, then predict all of them in one batched call."""
        if len(images) == 0:
            return []
        x = np.stack([self.preprocess(img) for img in images])
        return self.to_predictions(self.probabilities(x), x)

    # -------------------------------------------------------------- explanations
    def explain(
        self,
        image: ImageInput,
        method: str | None = None,
        layer: str | None = None,
        target: int | None = None,
        contrast: int | None = None,
    ) -> Explanation:
        """Explain the prediction for `image`; the map is also projected onto the original.

        method/layer None: the model's measured default (`model.explain.default_method`).
        """
        # Deferred: explanations load TensorFlow, which plain ONNX prediction never needs.
        from model.explain import explain

        return explain(self, self.preprocess_stages(image), method, layer, target, contrast)

    def explain_input(
        self,
        x: np.ndarray,
        method: str | None = None,
        layer: str | None = None,
        target: int | None = None,
        contrast: int | None = None,
    ) -> Explanation:
        """Explain an input already in model format, e.g. a (28, 28) test image."""
        from model.explain import explain

        return explain(self, np.asarray(x, np.float32), method, layer, target, contrast)


def load_classifier(
    name_or_path: str | os.PathLike = "mnist-cnn", runtime: str = "auto"
) -> Classifier:
    """Load a bundled model by name, or any `.keras` file (Keras parts in safe mode).

    runtime: `auto` (the float ONNX export where one matches the `.keras` file, else
    Keras), `onnx`, `onnx-int8` or `onnx-fp16` (fail if that export is missing or
    stale), or `keras` (one compiled tf.function). ONNX runtimes never import TensorFlow.
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    artifact = resolve(name_or_path)
    if runtime != "keras":
        onnx_runtime = "onnx" if runtime == "auto" else runtime
        path = onnx_path_for(artifact, onnx_runtime)
        if path is not None:
            rt = OnnxRuntime(path, name=ONNX_NAMES[onnx_runtime])
            _check_contract(rt.input_shape[1:], rt.output_shape[1:], path)
            return Classifier(artifact, None, rt)
        if runtime != "auto":
            raise ModelLoadError(
                f"{artifact.name} has no {runtime} export matching its .keras file; "
                f"run: python -m model.export --model {name_or_path}"
                + ("" if runtime == "onnx" else " --quantize")
            )
    net = _load_net(artifact.keras_path)
    return Classifier(artifact, net, KerasRuntime(net))


#: `Runtime.name` of each ONNX runtime, as `/v1/models` and the app show it.
ONNX_NAMES = {
    "onnx": "onnxruntime",
    "onnx-int8": "onnxruntime-int8",
    "onnx-fp16": "onnxruntime-fp16",
}


def _check_contract(in_shape: tuple | None, out_shape: tuple | None, path: Path) -> None:
    """A usable model takes (N, 28, 28, 1) and gives (N, 10)."""
    if in_shape is not None:
        in_shape = tuple(in_shape)
    if out_shape is not None:
        out_shape = tuple(out_shape)
    if in_shape != (28, 28, 1) or out_shape != (10,):
        raise ModelLoadError(
            f"{path.name} takes {in_shape} and returns {out_shape}; DigitLens needs a model "
            "that takes (28, 28, 1) images and returns 10 class probabilities"
        )
