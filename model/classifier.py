"""The Classifier: preprocessing, fast prediction and explanations behind one object.

    from model import load_classifier
    clf = load_classifier("mnist-cnn")
    clf.predict("seven.png").label

The `.keras` file is the source of truth. Where an ONNX export of exactly that
file lies beside it (the card records the `.keras` file's SHA-256), prediction
runs on ONNX Runtime without importing TensorFlow; otherwise on one compiled
`tf.function`. Never on `model.predict` (tens of ms a call). Quantized exports
(`<name>.int8.onnx`, `<name>.fp16.onnx`) are chosen with `runtime=`.

Kept as one file: it is the facade every front end reads first, and past the
prediction path each method is a short door to its own room (`model.why`,
`model.number`), where the work is.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.architecture import CONV_LAYERS, conv_layer_names, public_conv_layers
from model.errors import ImageError, ModelInputError, ModelLoadError
from model.input.decode import MAX_PIXELS, ImageInput
from model.input.photo import KERAS_MODES, SCALINGS, PhotoInput, canonical_scaling, prepare_photo
from model.input.preprocessing import Preprocessed, preprocess_stages
from model.input.samples import sample_canvas
from model.judge.verdict import BLANK_REASON, DIGIT_CLASSES, Judge
from model.judge.which import borrowed_judge, load_judge
from model.prediction import TOP_K, Prediction, Ranked, top_k
from model.runtime.artifacts import Artifact, keras_layer_names, sources_sha256
from model.runtime.card import Card, Preprocessing
from model.runtime.graph import last_spatial_layer, spatial_layers
from model.runtime.litert import Work
from model.runtime.loading import load_net, unit_input_net
from model.runtime.runtimes import (
    Runtime,
)

if TYPE_CHECKING:
    import keras

    from model.number import NumberReading
    from model.why.atlas import Placement
    from model.why.attribution import Explanation
    from model.why.counterfactual import Counterfactual
    from model.why.layers import Activations
    from model.why.neighbours import Neighbours

#: The digit recipes of `model.input.preprocessing` (for 28x28 grey models).
DIGIT_RECIPES = ("mnist", "fashion")
#: What `load_classifier(preprocessing=...)` accepts: a digit recipe, or an input scaling
#: of `model.input.photo` (or a Keras `preprocess_input` mode).
PREPROCESSINGS = tuple(dict.fromkeys((*DIGIT_RECIPES, *SCALINGS, *KERAS_MODES)))  # (no repeats)
#: The input the digit recipes produce.
DIGIT_SHAPE = (28, 28, 1)


def are_digits(class_names: Sequence[str]) -> bool:
    """Whether class names are the ten digits, in order: the model's verdicts are said in
    a digit model's words (`VERDICT_WORDS`), where only the names are at hand."""
    return tuple(class_names) == DIGIT_CLASSES


#: The scaling of a non-digit model whose card states none and for which nobody chose one.
DEFAULT_SCALING = "0-1"


@cache
def _input_code_sha256() -> str:
    """The hash of `model.input`'s files, the preprocessing this process imported: read
    once, not at every model's load."""
    return sources_sha256(tuple(sorted((Path(__file__).parent / "input").glob("*.py"))))


#: How far past 0..1 a digit model's input may stray by float rounding (a map resized,
#: an edit added) before `Classifier.model_inputs` refuses it.
INPUT_SLACK = 1e-3


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
        #: How its input was fitted to the preprocessing, in words, where it was
        #: (`model.runtime.loading.unit_input_net`); shown beside the card.
        self.input_note: str | None = None
        self._net_lock = threading.Lock()
        self._preprocessing = check_preprocessing(preprocessing)

    @property
    def net(self) -> keras.Model:
        """The Keras network, loaded (TensorFlow imported) on first use."""
        if self._net is None:
            with self._net_lock:
                if self._net is None:
                    net = load_net(self.artifact.keras_path)
                    # (as its runtime takes it: an export of a digit model that rescales
                    # 0..255 inside takes 0..1, model.runtime.export)
                    unit = unit_input_net(net) if self.is_digit else None
                    self._net = net if unit is None else unit
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
        or an input scaling of `model.input.photo` (`0-1`, `0-255`, `-1-1`, `caffe`, `torch`).

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
    def reads_digits(self) -> bool:
        """Whether the model's classes are the ten digits, in order (a digit pipeline can
        also feed garments, fashion-cnn): what reading a written number needs."""
        # (the fashion recipe is clothes' even where a card-less model's classes are
        # named 0-9: "this looks like 2 digits ... read it as a number", a user test)
        return self.preprocessing == "mnist" and are_digits(self.class_names)

    @property
    def recipe(self) -> str:
        """The digit recipe (`mnist` or `fashion`); `mnist` for a photo model (unused)."""
        return self.preprocessing if self.is_digit else "mnist"

    @property
    def perturbation(self) -> str:
        """How the trust score removes pixels: `zero` (black: the digit's background) for
        digits, `mean` (the image's mean colour: black is not "nothing" on a photo) for
        photos (model.why.trust)."""
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
        """Decides each prediction's verdict: the model's detector; for a digit model
        without one (a user's 28x28 MNIST model), the bundled digit detector, which judges
        the input alone (`model.judge.which.borrowed_judge`); else a post-hoc score."""
        judge = load_judge(
            self.artifact.keras_path,
            self.class_names,
            self.card,
            digits=self.preprocessing not in DIGIT_RECIPES or self.preprocessing == "mnist",
        )
        if judge.detector is None and self.reads_digits and self.input_shape == DIGIT_SHAPE:
            return borrowed_judge(self.class_names, self.card) or judge
        return judge

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
        self, image: ImageInput, max_pixels: int = MAX_PIXELS, piece: bool = False
    ) -> Preprocessed | PhotoInput:
        """Every preprocessing stage for `image`: the digit recipe's stages, or the photo
        prepared at the model's input size with its scaling. Both have .x (the model
        input), .original (for display) and .project_back (a map onto .original).
        piece: one digit cut from a number (`model.input.preprocessing.preprocess_stages`)."""
        if self.is_digit:
            return preprocess_stages(image, self.recipe, max_pixels, piece)
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

        Without `x` the verdict falls back to the post-hoc score (see model/judge/verdict.py).
        """
        return self.to_predictions(np.asarray(probs)[None], None if x is None else x[None])[0]

    def to_predictions(
        self, probs: np.ndarray, x: np.ndarray | None = None, detector: np.ndarray | None = None
    ) -> list[Prediction]:
        """(N, 10) probabilities and the (N, 28, 28) inputs -> N Predictions (one detector
        call, none where `detector` already holds its (N,) log-odds on `x`)."""
        probs = np.asarray(probs, np.float32)
        if len(probs) == 1 and x is not None:
            return [self._prediction_of_one(probs, x, detector)]
        return self._predictions_of(probs, x, detector)

    def _predictions_of(
        self, probs: np.ndarray, x: np.ndarray | None, detector: np.ndarray | None
    ) -> list[Prediction]:
        """`to_predictions` on arrays: any number of inputs."""
        judge, names = self.judge, self.class_names
        scores = judge.scores(x, probs, detector).tolist()  # Python floats, as float() gives
        detector = judge.detector is not None and x is not None
        labels = probs.argmax(axis=1).tolist() if len(probs) else []
        blank = judge.blank(x).tolist() if x is not None and self.is_digit else [False] * len(probs)
        out = []
        for p, label, score, empty in zip(probs, labels, scores, blank, strict=True):
            verdict, reason = (
                ("not_a_digit", BLANK_REASON) if empty else judge.verdict(score, p, detector)
            )
            out.append(Prediction(label, float(p[label]), p, names[label], verdict, score, reason))
        return out

    def _prediction_of_one(
        self, probs: np.ndarray, x: np.ndarray, detector: np.ndarray | None
    ) -> Prediction:
        """`to_predictions` for one input (a drawing, a request): the same numbers, read
        from the (1, K) row as Python floats, without a numpy call per step."""
        judge, row = self.judge, probs[0]
        values = row.tolist()  # float32 -> the Python floats float() gives
        p_max = max(values)
        if p_max != p_max:  # NaN: numpy's argmax takes the NaN, max() may not
            label = int(row.argmax())
            p_max = values[label]
        else:
            label = values.index(p_max)  # the first of equal maxima, as argmax
        score = judge.score_one(x, p_max, detector)
        if self.is_digit and judge.blank_one(x):
            verdict, reason = "not_a_digit", BLANK_REASON
        else:
            has_detector = judge.detector is not None
            verdict, reason = judge.verdict(score, row, has_detector, p_max=p_max)
        return Prediction(label, p_max, row, self.class_names[label], verdict, score, reason)

    @cached_property
    def fused(self) -> bool:
        """Whether the classifier and the judge's detector run as one ONNX graph
        (`model.runtime.fused`): one session call per batch instead of two."""
        detector = self.judge.detector
        attach = getattr(self.runtime, "attach_detector", None)
        if detector is None or attach is None or self.input_shape != DIGIT_SHAPE:
            return False
        # Where LiteRT and ONNX Runtime are timed for single inputs, each call is timed
        # with what every front end does between two: preprocessing a drawing.
        return bool(attach(detector.path, between=self._between_predictions()))

    @property
    def single_runtime(self) -> str:
        """Who answers one input at a time: the runtime's own name, or the one it chose by
        measurement for single inputs (`runtime="auto"`: LiteRT or ONNX Runtime's fused
        graph, `model.runtime.litert`), once the detector is fused in."""
        single = getattr(self.runtime, "single", None) if self.fused else None
        return single or self.runtime.name

    def _between_predictions(self) -> Work:
        """A drawing's preprocessing, as this model does it, and what identifies it: its
        `preprocessing` (the card's recipe or the caller's choice) and the code of
        `model.input` (either changed, the runtimes are timed again)."""

        def preprocess_sample() -> np.ndarray | None:
            try:
                return self.preprocess(sample_canvas())
            except ImageError:  # (a recipe that refuses the drawing: its attempt is the work)
                return None

        key = {"preprocessing": self.preprocessing, "code_sha256": _input_code_sha256()}
        return Work(preprocess_sample, key)

    def predict_inputs(self, x: np.ndarray) -> list[Prediction]:
        """Predict (N, H, W[, C]) inputs already in model format: one call for the model and
        its detector, fused (what the server's micro-batcher runs), or one call each.
        Raises ModelInputError for NaN or infinite values, and for a digit model's values
        outside 0..1 (`model_inputs`)."""
        return self._predict_inputs(self.model_inputs(x))

    def model_inputs(self, x: np.ndarray) -> np.ndarray:
        """`x` as (N, H, W[, C]) float32 model inputs, checked: finite, and in 0..1 for a
        digit model (its preprocessing's range; a photo model's scaling has its own)."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, *self.input_shape)
        if x.size:
            lo, hi = float(x.min()), float(x.max())  # (NaN anywhere: both NaN)
            fits = (
                lo >= -INPUT_SLACK and hi <= 1.0 + INPUT_SLACK
                if self.is_digit
                else math.isfinite(lo) and math.isfinite(hi)
            )
            if not fits:
                raise ModelInputError(
                    "the model's inputs must be finite numbers"
                    + (
                        " in 0..1 (an image's 0..255 levels divided by 255)"
                        if self.is_digit
                        else ""
                    )
                    + f"; these run from {lo:g} to {hi:g}"
                )
        return x

    def _predict_inputs(self, x: np.ndarray) -> list[Prediction]:
        """`predict_inputs` for inputs that are model inputs already (our preprocessing's)."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, *self.input_shape)
        # (a runtime swapped for a plain callable, as tests do, has no fused graph)
        if self.fused and getattr(self.runtime, "fused", False) and len(x):
            probs, logodds = self.runtime.predict_and_detect(x)
            return self.to_predictions(probs, x, logodds)
        return self.to_predictions(self.probabilities(x), x)

    def predict_views(
        self, x: np.ndarray, views: np.ndarray, owner: Sequence[int] | np.ndarray
    ) -> list[Prediction]:
        """Predict (N, H, W[, C]) inputs, each with its probabilities averaged with those of
        its other views ((M, H, W[, C]): view j is another view of input owner[j], as
        `model.input.views` makes them): every input and view in one model call; the
        judge weighs the averaged probabilities with its detector on `x` alone."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, *self.input_shape)
        views = np.asarray(views, np.float32).reshape(-1, *self.input_shape)
        owner = np.asarray(owner, np.intp)
        n = len(x)
        if n == 0:
            return []
        batch = np.concatenate([x, views]) if len(views) else x
        logodds = None
        if self.fused and getattr(self.runtime, "fused", False):
            probs, logodds = self.runtime.predict_and_detect(batch)
            logodds = np.asarray(logodds)[:n]
        else:
            probs = self.probabilities(batch)
        mean = np.array(probs[:n], np.float64)
        np.add.at(mean, owner, probs[n:])
        mean /= (1 + np.bincount(owner, minlength=n))[:, None]
        return self.to_predictions(mean.astype(np.float32), x, logodds)

    def predict_input(self, x: np.ndarray) -> Prediction:
        """Predict one input already in model format (e.g. a (28, 28) test-set image)."""
        return self.predict_inputs(np.asarray(x, np.float32).reshape(1, *self.input_shape))[0]

    def predict(self, image: ImageInput) -> Prediction:
        """Preprocess and predict one image. Raises ImageError / BlankImageError (a dot or a
        tap: TooSmallError). Where the answer is not a plain digit because the image holds
        several, the reason says so (`model.number.several_digits`)."""
        prediction = self._predict_inputs(self.preprocess(image))[0]
        if prediction.verdict == "digit" or not self.reads_digits:
            return prediction
        from model.number import several_digits

        return several_digits(self, image, prediction)

    def predict_batch(self, images: Sequence[ImageInput]) -> list[Prediction]:
        """Preprocess each image, then predict all of them in one batched call; each answer
        as `predict` gives it (an image of several digits says so). An image that cannot
        be read raises its error, which names the image by its place in the batch."""
        if len(images) == 0:
            return []
        inputs = []
        for i, image in enumerate(images):
            try:
                inputs.append(self.preprocess(image))
            except ImageError as exc:  # (the same type, so callers catch what they did)
                raise type(exc)(f"image {i} of {len(images)}: {exc}") from exc
        predictions = self._predict_inputs(np.stack(inputs))
        if not self.reads_digits:
            return predictions
        from model.number import several_digits

        return [
            p if p.verdict == "digit" else several_digits(self, image, p)
            for image, p in zip(images, predictions, strict=True)
        ]

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

        method/layer None: the model's measured default (`model.why.attribution.default_method`).
        """
        # Deferred: explanations load TensorFlow, which plain ONNX prediction never needs.
        from model.why.attribution import explain

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
        from model.why.attribution import explain

        return explain(self, np.asarray(x, np.float32), method, layer, target, contrast)

    # -------------------------------------------------------------- counterfactuals
    def counterfactual(self, image: ImageInput, target: int) -> Counterfactual:
        """The smallest realistic edit of `image` read as `target` (`model.why.counterfactual`)."""
        from model.why.counterfactual import counterfactual  # deferred: its search loads TF

        return counterfactual(self, self.preprocess_stages(image), target)

    def adversarial(self, image: ImageInput, target: int) -> Counterfactual:
        """The adversarial twin: the smallest targeted PGD noise read as `target`."""
        from model.why.counterfactual import adversarial  # deferred: its search loads TF

        return adversarial(self, self.preprocess_stages(image), target)

    # -------------------------------------------------------------- evidence
    def neighbours(self, image: ImageInput, k: int = 8, index: Any = None) -> Neighbours:
        """The k nearest training examples in the model's representation
        (`model.why.neighbours`)."""
        from model.why.neighbours import neighbours

        return neighbours(self, image, k, index)

    def place(self, image: ImageInput) -> Placement:
        """Where `image` lands on the model's digit atlas (`model.why.atlas`)."""
        from model.why.atlas import place

        return place(self, image)

    def activations(self, image: ImageInput) -> Activations:
        """Every layer's output for `image` (`model.why.layers`)."""
        from model.why.layers import activations

        return activations(self, image)

    # -------------------------------------------------------------- numbers
    def read_number(self, image: ImageInput, max_pixels: int = MAX_PIXELS) -> NumberReading:
        """Read a written number digit by digit (`model.number`)."""
        from model.number import read_number

        return read_number(self, image, max_pixels)


def check_preprocessing(preprocessing: str | None) -> str | None:
    """None, a digit recipe, or a scaling (Keras modes accepted) -> its canonical name."""
    if preprocessing is None or preprocessing in DIGIT_RECIPES:
        return preprocessing
    try:
        return canonical_scaling(preprocessing)
    except ValueError as exc:
        raise ModelLoadError(
            f"unknown preprocessing {preprocessing!r}; choose from {', '.join(PREPROCESSINGS)}"
        ) from exc
