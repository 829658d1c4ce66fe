"""Default maps measured on a model's own inputs, kept per model object.

A model's card can name its measured default map (`Card.default_explanation`). A
user's own `.keras` file has no such card: `model.why.choice` ranks the methods by
their trust score on the first inputs the model sees (or on a folder of images) and
keeps the winner here, where `model.why.attribution.default_method` reads it.

This module only stores: it imports nothing of `model.why`, so the registry can read
it and the ranking, which needs the registry, can fill it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MeasuredDefault:
    """The method (and layer) whose maps earned the best mean trust score on `inputs`
    inputs of one model, with every method's mean score, best first."""

    method: str
    layer: str | None
    inputs: int  # how many inputs it was chosen on
    scores: tuple[tuple[str, float], ...]  # ("method" or "method@layer", mean trust score)
    source: str = "the first inputs it saw"  # or "the images in <folder name>"
    final: bool = False  # True: no more inputs will change it

    @property
    def reason(self) -> str:
        """Why it was chosen, for a person: "chosen on 4 inputs: best trust score (+0.41;
        next: gradcam@c3 +0.30)"."""
        best = self.scores[0][1]
        runner = ""
        if len(self.scores) > 1:
            runner = f"; next: {self.scores[1][0]} {self.scores[1][1]:+.2f}"
        what = "input" if self.inputs == 1 else "inputs"
        return f"chosen on {self.inputs} {what}: best trust score ({best:+.2f}{runner})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "layer": self.layer,
            "inputs": self.inputs,
            "source": self.source,
            "reason": self.reason,
            "scores": dict(self.scores),
        }


_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def measured(model: Any) -> MeasuredDefault | None:
    """The default measured for this model object, or None (not measured yet)."""
    with _LOCK:
        return _MEASURED.get(model)


def remember(model: Any, chosen: MeasuredDefault) -> None:
    """Keep `chosen` as this model object's default (a final choice is never replaced
    by a provisional one)."""
    with _LOCK:
        old = _MEASURED.get(model)
        if old is None or not old.final or chosen.final:
            _MEASURED[model] = chosen


def forget(model: Any) -> None:
    """Drop this model object's measured default (the fixed fallback answers again)."""
    with _LOCK:
        _MEASURED.pop(model, None)
