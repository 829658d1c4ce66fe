"""DigitLens' engine: the network, its inputs, its runtimes, its judge and its "why".

    from model import load_classifier
    clf = load_classifier("mnist-cnn")
    clf.predict("seven.png").label          # an answer with its verdict
    clf.explain("seven.png")                # a map (model.why)

The rooms, each importable on its own (imports run downhill: front ends -> model):

- `model.input`: decoding any image, the digit recipes, photos, refusals, sources
- `model.runtime`: artefacts and cards, loading, ONNX/Keras runtimes, exports
- `model.judge`: the verdict (digit / unsure / not a digit)
- `model.why`: the kinds of explanation, their trust and sanity, the report
- `model.classifier` (the `Classifier` facade), `model.load` (`load_classifier`),
  `model.prediction`, `model.architecture` (the network), `model.datasets` (IDX files)

Importing this package is cheap: `Classifier`, `Prediction` and `load_classifier` load
on first use (so `python -m model.predict --help` stays fast), and TensorFlow loads
only when a Keras path needs it (`model.runtime.backend`).
"""

from importlib import import_module
from typing import TYPE_CHECKING

from model.errors import (
    BlankImageError,
    DigitLensError,
    ExplanationError,
    ImageError,
    ModelLoadError,
    ModelNotFoundError,
    NoiseImageError,
    TooSmallError,
)

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.load import load_classifier
    from model.prediction import Prediction

#: The facade's names, by the module that defines each (imported on first use).
_LAZY = {
    "Classifier": "model.classifier",
    "Prediction": "model.prediction",
    "load_classifier": "model.load",
}


def __getattr__(name: str):
    """`from model import load_classifier` imports its module only then (PEP 562)."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")


__all__ = [
    "BlankImageError",
    "Classifier",
    "DigitLensError",
    "ExplanationError",
    "ImageError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NoiseImageError",
    "Prediction",
    "TooSmallError",
    "load_classifier",
]
