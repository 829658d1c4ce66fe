"""DigitLens' engine: the network, preprocessing, inference and explanations.

Importing this package is cheap: `Classifier`, `Prediction` and `load_classifier`
load `model.classifier` on first use (so `python -m model.predict --help` stays
fast), and TensorFlow loads only when a Keras path needs it (`model.runtime.backend`).
"""

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
    from model.classifier import Classifier, Prediction, load_classifier

_LAZY = ("Classifier", "Prediction", "load_classifier")


def __getattr__(name: str):
    """`from model import load_classifier` imports model.classifier only then (PEP 562)."""
    if name in _LAZY:
        from model import classifier as inference

        return getattr(inference, name)
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
