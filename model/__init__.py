"""DigitLens' engine: the network, preprocessing, inference and explanations.

Importing this package is cheap; TensorFlow loads with the first model.
"""

from model.inference import Classifier, Prediction, load_classifier
from model.preprocessing import BlankImageError, ImageError

__all__ = ["BlankImageError", "Classifier", "ImageError", "Prediction", "load_classifier"]
