"""DigitLens' engine: the network, preprocessing, inference and explanations.

Importing this package is cheap; TensorFlow loads with the first model.
"""

from model.errors import (
    BlankImageError,
    DigitLensError,
    ExplanationError,
    ImageError,
    ModelLoadError,
    ModelNotFoundError,
    TooSmallError,
)
from model.inference import Classifier, Prediction, load_classifier

__all__ = [
    "BlankImageError",
    "Classifier",
    "DigitLensError",
    "ExplanationError",
    "ImageError",
    "ModelLoadError",
    "ModelNotFoundError",
    "Prediction",
    "TooSmallError",
    "load_classifier",
]
