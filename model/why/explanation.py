"""`Explanation`: one map, what it explains and how to say it (made by
`model.why.attribution.explain`, which every front end calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.input.preprocessing import Preprocessed

if TYPE_CHECKING:
    from model.input.photo import PhotoInput


@dataclass(frozen=True)
class Explanation:
    """A map on the model input, and where possible on the original image."""

    method: str
    layer: str | None  # None for the input-gradient methods
    label: int  # the class explained (the prediction unless a target was given)
    class_name: str
    probability: float  # of `label`
    probabilities: np.ndarray  # (K,)
    heatmap: np.ndarray  # (H, W) float32 in [0, 1] on the model input; all zero when `empty`
    x: np.ndarray  # (H, W) or (H, W, C): the model input that was explained
    stages: Preprocessed | PhotoInput | None = None  # None: a model-format input
    contrast: int | None = None  # the class the map argues against ("why 9 and not 4?")
    contrast_name: str | None = None
    empty: bool = False  # no positive evidence anywhere: the map is all zero
    native_hw: tuple[int, int] = (28, 28)  # the map's own resolution before upsampling

    @property
    def heatmap_original(self) -> np.ndarray | None:
        """(H, W) float32 in [0, 1]: the map projected back onto the original image."""
        return None if self.stages is None else self.stages.project_back(self.heatmap)

    @property
    def where(self) -> str:
        return f"at {self.layer}" if self.layer else "in the input pixels"

    @property
    def question(self) -> str:
        """What the map answers, in words: "why 9?" or "why 9 and not 4?"."""
        base = f"why {self.class_name}"
        return f"{base} and not {self.contrast_name}?" if self.contrast is not None else f"{base}?"

    @property
    def summary(self) -> str:
        """One sentence for a person; says so when the map is empty."""
        against = f" against {self.contrast_name}" if self.contrast is not None else ""
        if self.empty:
            return f"no positive evidence for {self.class_name}{against} {self.where}"
        return f"evidence for {self.class_name}{against} {self.where}"

    @property
    def why_empty(self) -> str:
        """Why an empty map is empty, for a learner ("" for a map that is not): it showed
        "no positive evidence for 4 at conv3" beside a 4 read > 99.9 % sure, with no word
        of how both can be (a user test)."""
        if not self.empty:
            return ""
        if self.layer:
            return (
                f"A map on a layer keeps only the places where {self.layer}'s channels, each "
                "weighted by how much it raises the answer, add up to more than zero; here "
                "they add up to zero or less everywhere. A sure answer can rest on evidence "
                "that this weighting cancels out: a map on the input pixels (Integrated "
                "Gradients, Saliency) shows where it lies."
            )
        return (
            "This map keeps only the pixels that raise the answer, and here none does on its "
            "own: another method (Integrated Gradients) weighs them together."
        )

    @property
    def resolution(self) -> str:
        """ "7x7 map, upsampled" or "28x28 map"."""
        h, w = self.native_hw
        full = self.heatmap.shape
        return f"{h}x{w} map" + (", upsampled" if (h, w) != tuple(full) else "")

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "layer": self.layer,
            "label": self.label,
            "class_name": self.class_name,
            "probability": self.probability,
            "contrast": self.contrast,
            "contrast_name": self.contrast_name,
            "empty": self.empty,
            "summary": self.summary,
            "resolution": self.resolution,
        }
