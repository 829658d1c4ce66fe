"""Any image -> the input of a general image classifier (RGB or grey, any size).

Digit models get the MNIST-style pipeline of `model.input.preprocessing`. Every other
model (Keras Applications, a user's own RGB classifier) gets what Keras'
own examples do: decode, EXIF-rotate, convert to RGB (or grey for a
one-channel model), resize to the model's input size, and scale the values the
way the model was trained:

| scaling | values the model gets | used by |
| --- | --- | --- |
| `0-1` | RGB / 255 | the default for a model with no card and no choice |
| `0-255` | RGB as is | models that include their own preprocessing (`none` in Keras) |
| `-1-1` | RGB / 127.5 - 1 | Keras' `tf` mode: MobileNet(V2), Inception, Xception |
| `caffe` | BGR minus the ImageNet mean, not scaled | Keras' `caffe` mode: ResNet50, VGG16/19 |
| `torch` | (RGB / 255 - ImageNet mean) / ImageNet std | Keras' `torch` mode: DenseNet |

The same maths as `keras.applications.imagenet_utils.preprocess_input`, in
numpy, so no TensorFlow is needed to prepare an input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from model.errors import ImageError
from model.input.decode import (
    MAX_PIXELS,
    ImageInput,
    display_rgb,
    load_image,
    normalise_mode,
    shrink,
)

#: Keras' names for its modes -> ours (they mean the same numbers).
KERAS_MODES = {"tf": "-1-1", "none": "0-255", "caffe": "caffe", "torch": "torch"}
SCALINGS = ("0-1", "0-255", "-1-1", "caffe", "torch")
#: ImageNet statistics (RGB) used by the `caffe` and `torch` modes.
IMAGENET_MEAN_255 = np.array([123.68, 116.779, 103.939], np.float32)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
#: The copy kept for display and heatmap overlays: longest side at most this.
DISPLAY_SIDE = 1024


def canonical_scaling(name: str) -> str:
    """A scaling name or a Keras mode -> one of SCALINGS; ValueError for anything else."""
    key = str(name).strip().lower()
    key = KERAS_MODES.get(key, key)
    if key not in SCALINGS:
        raise ValueError(
            f"unknown input scaling {name!r}; choose one of {', '.join(SCALINGS)} "
            f"or a Keras mode ({', '.join(KERAS_MODES)})"
        )
    return key


def scale(rgb: np.ndarray, scaling: str) -> np.ndarray:
    """(..., C) values in 0..255 -> float32 as the model expects (C = 1 or 3)."""
    x = np.asarray(rgb, np.float32)
    mode = canonical_scaling(scaling)
    if mode == "0-1":
        return x / 255.0
    if mode == "0-255":
        return x.copy()
    if mode == "-1-1":
        return x / 127.5 - 1.0
    if x.shape[-1] != 3:
        raise ValueError(f"the {mode} scaling needs RGB input, got {x.shape[-1]} channel(s)")
    if mode == "caffe":
        return (x - IMAGENET_MEAN_255)[..., ::-1].copy()  # RGB -> BGR, mean-centred
    return (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD  # torch


@dataclass(frozen=True)
class PhotoInput:
    """A photo prepared for a general classifier, with what the UI needs to show it."""

    display: Image.Image  # the input, EXIF-rotated, longest side <= DISPLAY_SIDE
    resized: np.ndarray  # (H, W, C) uint8: what the model sees, before scaling
    x: np.ndarray  # (H, W, C) float32: the model input
    scaling: str

    @cached_property
    def original(self) -> np.ndarray:
        """(h, w, 3) uint8 for display: transparency shown over white, like a page."""
        return display_rgb(self.display, alpha_bg=255)

    def project_back(self, heatmap: np.ndarray) -> np.ndarray:
        """An (H, W) map on the model input -> (h, w) on `original` (the resize undone)."""
        h, w = self.original.shape[:2]
        hm = Image.fromarray(np.asarray(heatmap, np.float32), mode="F")
        out = np.asarray(hm.resize((w, h), Image.Resampling.BILINEAR), np.float32)
        return np.clip(out, 0.0, 1.0)


def prepare_photo(
    image: ImageInput,
    size: tuple[int, int],
    channels: int = 3,
    scaling: str = "0-1",
    max_pixels: int = MAX_PIXELS,
) -> PhotoInput:
    """Decode any image and make it a (H, W, channels) model input. Raises ImageError.

    size: (height, width) of the model input. The picture is resized to it
    directly (no crop), as Keras' `load_img(target_size=...)` does.
    """
    if channels not in (1, 3):
        raise ImageError(f"DigitLens reads grey (1) or RGB (3) images; the model wants {channels}")
    img = normalise_mode(load_image(image, max_pixels))
    display = shrink(img, DISPLAY_SIDE)
    rgb = Image.fromarray(display_rgb(img, alpha_bg=255))
    del img
    h, w = size
    resized = np.asarray(rgb.resize((w, h), Image.Resampling.BILINEAR), np.uint8)  # (H, W, 3)
    if channels == 1:
        resized = np.asarray(Image.fromarray(resized).convert("L"), np.uint8)[..., None]
    return PhotoInput(display, resized, scale(resized, scaling), canonical_scaling(scaling))
