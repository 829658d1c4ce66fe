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

from model.architecture import CONV_LAYERS, conv_layer_names, public_conv_layers
from model.artifacts import Artifact, keras_layer_names, load_keras_model, resolve
from model.backend import import_keras
from model.card import Card, Preprocessing
from model.errors import ModelLoadError
from model.graph import last_spatial_layer, spatial_layers
from model.ood import Judge, Verdict, load_judge
from model.photo import KERAS_MODES, SCALINGS, PhotoInput, canonical_scaling, prepare_photo
from model.preprocessing import (
    MAX_PIXELS,
    ImageInput,
    Preprocessed,
    preprocess_stages,
)

if TYPE_CHECKING:
    import keras

    from model.counterfactual import Counterfactual
    from model.explain import Explanation

#: Overrides the ONNX Runtime thread count for batches (default: every core).
THREADS_ENV = "DIGITLENS_THREADS"
#: What `load_classifier(runtime=...)` accepts. `auto`: the float ONNX export where one
#: matches the `.keras` file, else Keras.
RUNTIMES = ("auto", "onnx", "onnx-int8", "onnx-fp16", "keras")
#: The ONNX file of each ONNX runtime, by what goes between the model name and `.onnx`.
ONNX_VARIANTS = {"onnx": "", "onnx-int8": ".int8", "onnx-fp16": ".fp16"}
#: The digit recipes of `model.preprocessing` (for 28x28 grey models).
DIGIT_RECIPES = ("mnist", "fashion")
#: What `load_classifier(preprocessing=...)` accepts: a digit recipe, or an input scaling
#: of `model.photo` (or a Keras `preprocess_input` mode).
PREPROCESSINGS = (*DIGIT_RECIPES, *SCALINGS, *KERAS_MODES)
#: The input the digit recipes produce.
DIGIT_SHAPE = (28, 28, 1)
#: The scaling of a non-digit model whose card states none and for which nobody chose one.
DEFAULT_SCALING = "0-1"
#: How many classes `Classifier.top` returns unless told.
TOP_K = 5


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

    def top(self, k: int = TOP_K, class_names: Sequence[str] | None = None) -> list[Ranked]:
        """The k most probable classes, most probable first (ties: lower index first)."""
        return top_k(self.probabilities, k, class_names)


@dataclass(frozen=True)
class Ranked:
    """One class of a top-k list."""

    label: int
    class_name: str
    probability: float

    def to_dict(self) -> dict:
        return {"label": self.label, "class_name": self.class_name, "probability": self.probability}


def top_k(
    probabilities: np.ndarray, k: int = TOP_K, class_names: Sequence[str] | None = None
) -> list[Ranked]:
    """(K,) probabilities -> the k most probable classes, most probable first."""
    p = np.asarray(probabilities, np.float32).reshape(-1)
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, not {k}")
    order = np.argsort(-p, kind="stable")[: min(k, len(p))]
    names = class_names if class_names is not None and len(class_names) == len(p) else None
    return [Ranked(int(i), names[i] if names else str(int(i)), float(p[i])) for i in order]


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
        """(N, H, W, C) float32 -> (N, K) float32 probabilities, in one call."""


class KerasRuntime:
    """One traced `tf.function` with a fixed signature: no retracing for any batch size."""

    name = "tf.function"

    def __init__(self, net: keras.Model):
        import_keras()
        import tensorflow as tf

        shape = [int(d) for d in net.inputs[0].shape[1:]]  # (H, W, C), the model's own
        self._fn = tf.function(
            lambda x: net(x, training=False),
            input_signature=[tf.TensorSpec([None, *shape], tf.float32)],
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
        return artifact.card.onnx
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

    def __init__(
        self,
        artifact: Artifact,
        net: keras.Model | None,
        runtime: Runtime,
        preprocessing: str | None = None,
    ):
        """preprocessing: a digit recipe or an input scaling that overrides the card's."""
        self.artifact, self.runtime, self._net = artifact, runtime, net
        self._net_lock = threading.Lock()
        self._preprocessing = _check_preprocessing(preprocessing)

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
    def card(self) -> Card:
        return self.artifact.card

    @cached_property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one model input, from the network (or its ONNX export)."""
        if self._net is not None:
            return tuple(int(d) for d in self._net.inputs[0].shape[1:])  # type: ignore[return-value]
        shape = getattr(self.runtime, "input_shape", None)
        if shape is not None and all(isinstance(d, int) for d in shape[1:]):
            return tuple(shape[1:])  # type: ignore[return-value]
        return tuple(int(d) for d in self.net.inputs[0].shape[1:])  # type: ignore[return-value]

    @cached_property
    def num_classes(self) -> int:
        """K: the length of the model's probability vector."""
        if self._net is None:
            shape = getattr(self.runtime, "output_shape", None)
            if shape is not None and isinstance(shape[-1], int):
                return int(shape[-1])
        return int(self.net.outputs[0].shape[-1])

    @property
    def class_names(self) -> tuple[str, ...]:
        """The card's class names where they fit the model, else "0".."K-1"."""
        names = self.card.class_names or ()
        if len(names) == self.num_classes:
            return names
        return tuple(str(i) for i in range(self.num_classes))

    @property
    def preprocessing(self) -> str:
        """What turns an image into this model's input: a digit recipe (`mnist`, `fashion`)
        or an input scaling of `model.photo` (`0-1`, `0-255`, `-1-1`, `caffe`, `torch`).

        The caller's choice first, then the card's (`preprocessing.scaling`, or a recipe
        for a 28x28 grey model), then: a 28x28 grey model the MNIST recipe, any other
        model 0-1.
        """
        if self._preprocessing is not None:
            return self._preprocessing
        section = self.card.preprocessing or Preprocessing()
        if section.scaling:
            return canonical_scaling(section.scaling)
        if self.input_shape == DIGIT_SHAPE:
            return section.recipe if section.recipe is not None else "mnist"
        return DEFAULT_SCALING

    @property
    def is_digit(self) -> bool:
        """Whether inputs go through the digit pipeline (ink, crop, centre) or are photos."""
        return self.preprocessing in DIGIT_RECIPES

    @property
    def recipe(self) -> str:
        """The digit recipe (`mnist` or `fashion`); `mnist` for a photo model (unused)."""
        return self.preprocessing if self.is_digit else "mnist"

    @property
    def perturbation(self) -> str:
        """How the trust score removes pixels: `zero` (black: the digit's background) for
        digits, `mean` (the image's mean colour: black is not "nothing" on a photo) for
        photos (model.faithfulness)."""
        return "zero" if self.is_digit else "mean"

    @property
    def is_digitlens(self) -> bool:
        """Whether the network uses DigitLens' public layer names (conv1 ... conv3)."""
        kind = (self.card.architecture or {}).get("kind")
        return kind in ("cnn", "mlp") or bool(public_conv_layers(self._layer_names()))

    def _layer_names(self) -> tuple[str, ...]:
        if self._net is not None:
            return tuple(layer.name for layer in self._net.layers)
        return keras_layer_names(self.artifact.keras_path)

    @cached_property
    def judge(self) -> Judge:
        """Decides each prediction's verdict: the model's detector, else a post-hoc score."""
        return load_judge(self.artifact.keras_path, self.class_names, self.card)

    @cached_property
    def conv_layers(self) -> tuple[str, ...]:
        """The spatial layers this model offers for explanations: DigitLens' public names
        (read from the `.keras` config while the network is not loaded: no TensorFlow) or,
        for any other model, every layer with a (h, w, c) output, nested ones included."""
        if self.is_digitlens:
            if self._net is not None:
                return conv_layer_names(self._net)
            return public_conv_layers(self._layer_names())
        return spatial_layers(self.net)

    @cached_property
    def default_layer(self) -> str:
        """The layer a class-activation map reads unless told: conv3 for DigitLens models,
        else the last spatial map bigger than 1x1 (the last one if all are 1x1)."""
        if not self.conv_layers:
            raise ModelLoadError(f"{self.name} has no layer with a spatial (h, w, c) output")
        if CONV_LAYERS[-1] in self.conv_layers:
            return CONV_LAYERS[-1]
        return last_spatial_layer(self.net, self.conv_layers)

    def top(self, prediction: Prediction | np.ndarray, k: int = TOP_K) -> list[Ranked]:
        """The k most probable classes of a prediction (or a (K,) vector), with names."""
        probs = prediction.probabilities if isinstance(prediction, Prediction) else prediction
        return top_k(probs, k, self.class_names)

    # -------------------------------------------------------------- inputs
    def preprocess_stages(
        self, image: ImageInput, max_pixels: int = MAX_PIXELS
    ) -> Preprocessed | PhotoInput:
        """Every preprocessing stage for `image`: the digit recipe's stages, or the photo
        prepared at the model's input size with its scaling. Both have .x (the model
        input), .original (for display) and .project_back (a map onto .original)."""
        if self.is_digit:
            return preprocess_stages(image, self.recipe, max_pixels)
        h, w, c = self.input_shape
        return prepare_photo(image, (h, w), c, self.preprocessing, max_pixels)

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """What the model sees: (28, 28) float32 in [0, 1] for digits, (H, W, C) for photos."""
        return self.preprocess_stages(image).x

    # -------------------------------------------------------------- prediction
    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, H, W[, C]) model-format inputs -> (N, K) probabilities, in one call."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, *self.input_shape)
        if len(x) == 0:
            return np.zeros((0, self.num_classes), np.float32)
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

    def predict_inputs(self, x: np.ndarray) -> list[Prediction]:
        """Predict (N, H, W[, C]) inputs already in model format: one model call and one
        detector call for all of them (what the server's micro-batcher runs)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.to_predictions(self.probabilities(x), x)

    def predict_input(self, x: np.ndarray) -> Prediction:
        """Predict one input already in model format (e.g. a (28, 28) test-set image)."""
        x = np.asarray(x, np.float32).reshape(self.input_shape)
        return self.to_prediction(self.probabilities(x[None])[0], x)

    def predict(self, image: ImageInput) -> Prediction:
        """Preprocess and predict one image. Raises ImageError / BlankImageError (a dot or a
        tap: TooSmallError)."""
        return self.predict_input(self.preprocess(image))

    def predict_batch(self, images: Sequence[ImageInput]) -> list[Prediction]:
        """Preprocess each image, then predict all of them in one batched call."""
        if len(images) == 0:
            return []
        return self.predict_inputs(np.stack([self.preprocess(img) for img in images]))

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

    def counterfactual(self, image: ImageInput, target: int) -> Counterfactual:
        """The smallest realistic edit of `image` read as `target` (model.counterfactual)."""
        from model.counterfactual import counterfactual  # deferred: its search loads TF

        return counterfactual(self, self.preprocess_stages(image), target)

    def adversarial(self, image: ImageInput, target: int) -> Counterfactual:
        """The adversarial twin: the smallest targeted PGD noise read as `target`."""
        from model.counterfactual import adversarial  # deferred: its search loads TF

        return adversarial(self, self.preprocess_stages(image), target)


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
    Keras), `onnx`, `onnx-int8` or `onnx-fp16` (fail if that export is missing or
    stale), or `keras` (one compiled tf.function). ONNX runtimes never import TensorFlow.
    Keras Applications always run on Keras.
    preprocessing: overrides the card's (see `Classifier.preprocessing` and PREPROCESSINGS).
    weights, input_shape, download: Keras Applications only (`model.applications`):
    weights=None gives random weights (tests), download=False never touches the network.
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    _check_preprocessing(preprocessing)
    from model.applications import is_application
    from model.artifacts import BUNDLED

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
            rt = OnnxRuntime(path, name=ONNX_NAMES[onnx_runtime])
            _check_contract(rt.input_shape[1:], rt.output_shape[1:], path)
            return Classifier(artifact, None, rt, preprocessing)
        if runtime != "auto":
            raise ModelLoadError(
                f"{artifact.name} has no {runtime} export matching its .keras file; "
                f"run: python -m model.export --model {name_or_path}"
                + ("" if runtime == "onnx" else " --quantize")
            )
    net = _load_net(artifact.keras_path)
    return Classifier(artifact, net, KerasRuntime(net), preprocessing)


def _load_application(
    name: str,
    preprocessing: str | None,
    weights: str | os.PathLike | None,
    input_shape: tuple[int, int, int] | None,
    download: bool,
) -> Classifier:
    """A Keras Applications model with a card made on the spot (ImageNet names, scaling)."""
    from model.applications import build_application, imagenet_class_names, locate_weights

    import_keras()
    net, app = build_application(name, weights, input_shape, download)
    in_shape = tuple(net.inputs[0].shape[1:])
    out_shape = tuple(net.outputs[0].shape[1:])
    _check_contract(in_shape, out_shape, Path(app.name))
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
    return Classifier(artifact, net, KerasRuntime(net), preprocessing)


def _check_preprocessing(preprocessing: str | None) -> str | None:
    """None, a digit recipe, or a scaling (Keras modes accepted) -> its canonical name."""
    if preprocessing is None or preprocessing in DIGIT_RECIPES:
        return preprocessing
    try:
        return canonical_scaling(preprocessing)
    except ValueError as exc:
        raise ModelLoadError(
            f"unknown preprocessing {preprocessing!r}; choose from {', '.join(PREPROCESSINGS)}"
        ) from exc


#: `Runtime.name` of each ONNX runtime, as `/v1/models` and the app show it.
ONNX_NAMES = {
    "onnx": "onnxruntime",
    "onnx-int8": "onnxruntime-int8",
    "onnx-fp16": "onnxruntime-fp16",
}


def _check_contract(in_shape: tuple | None, out_shape: tuple | None, path: Path) -> None:
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
