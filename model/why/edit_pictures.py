"""Pictures of an edit: the edited digit, ink added and removed over the strokes, and the
adversarial twin's change magnified. Pure functions shared by the CLI, server and app.
"""

from __future__ import annotations

import numpy as np

from model.why.counterfactual import Counterfactual

# -------------------------------------------------------------------- pictures

#: Ink added and ink taken away, drawn over the user's strokes: blue and orange (told
#: apart with every common colour-vision deficiency, unlike green and red).
ADDED_RGB = (40, 150, 255)
REMOVED_RGB = (255, 120, 0)
#: The user's own strokes under the colours: grey, so both colours stand out.
STROKE_GREY = 0.55


def _upscale(rgb: np.ndarray, side: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (side, side, 3), nearest neighbour: every model pixel a square."""
    reps = max(1, side // max(rgb.shape[:2]))
    return np.repeat(np.repeat(rgb, reps, 0), reps, 1)


def _plane(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    return a if a.ndim == 2 else a.mean(-1)


def digit_picture(x: np.ndarray, side: int = 280) -> np.ndarray:
    """A model-format input ((28, 28) in [0, 1]) as an RGB picture, white ink on black."""
    g = (np.clip(_plane(x), 0, 1) * 255).astype(np.uint8)
    return _upscale(np.stack([g, g, g], -1), side)


def edit_picture(cf: Counterfactual, side: int = 280) -> np.ndarray:
    """The user's strokes in grey, ink the edit added in ADDED_RGB and ink it took away in
    REMOVED_RGB, each as strong as the change: (side, side, 3) uint8."""
    base = np.clip(_plane(cf.original), 0, 1)[..., None] * STROKE_GREY  # (h, w, 1)
    add = np.clip(cf.added, 0, 1)[..., None]
    rem = np.clip(cf.removed, 0, 1)[..., None]
    rgb = (
        base * (1 - add - rem)
        + add * (np.array(ADDED_RGB) / 255)
        + rem * (np.array(REMOVED_RGB) / 255)
    )
    return _upscale((np.clip(rgb, 0, 1) * 255).astype(np.uint8), side)


def change_picture(cf: Counterfactual, side: int = 280) -> tuple[np.ndarray, float]:
    """The change alone, magnified so its largest pixel is full strength: added in
    ADDED_RGB, removed in REMOVED_RGB, on black. Returns (picture, magnification)."""
    delta = _plane(cf.delta)
    peak = float(np.abs(delta).max())
    gain = 1.0 / peak if peak > 0 else 1.0
    up = np.clip(delta * gain, 0, 1)[..., None]
    down = np.clip(-delta * gain, 0, 1)[..., None]
    rgb = up * np.array(ADDED_RGB) + down * np.array(REMOVED_RGB)
    return _upscale(np.clip(rgb, 0, 255).astype(np.uint8), side), gain


def edit_on_original(cf: Counterfactual, strength: float = 0.85) -> np.ndarray | None:
    """The edit drawn over the user's own image at its own size (the preprocessing
    projected back): ink added in ADDED_RGB, ink taken away in REMOVED_RGB, over the
    strokes as drawn. (H, W, 3) uint8, or None for an input given in model format."""
    if cf.stages is None:
        return None
    image = np.asarray(cf.stages.original, np.float32) / 255  # (H, W, 3)
    add = np.clip(cf.stages.project_back(np.clip(cf.added * 2, 0, 1)), 0, 1)[..., None]
    rem = np.clip(cf.stages.project_back(np.clip(cf.removed * 2, 0, 1)), 0, 1)[..., None]
    add, rem = add * strength, rem * strength  # doubled first: the edit's faint edges show
    rgb = image * np.clip(1 - add - rem, 0, 1) + add * (np.array(ADDED_RGB) / 255)
    rgb = rgb + rem * (np.array(REMOVED_RGB) / 255)
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
