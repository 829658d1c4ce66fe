"""A map in words, for people who cannot see it (text alternatives, screen readers).

    describe(report, class_names)
    # "Integrated Gradients for 7: strongest at the top; beats the ink map"

Where: the centre of mass of the map's strongest evidence (at least STRONG x its peak),
named on a 3 x 3 grid of the model input ("the top", "the lower left", "the centre").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from model.why.attribution import METHODS

if TYPE_CHECKING:
    from model.why.attribution import Explanation
    from model.why.report import Report

#: Evidence at least this share of the map's peak counts as its strongest.
STRONG = 0.6
#: Names of the grid's rows and columns, and of their crossings.
ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "centre", "right")
_CORNER_ROWS = {"top": "upper", "bottom": "lower"}


def strongest_region(heatmap: np.ndarray) -> str:
    """Where a (H, W) map's strongest evidence lies, in words ("the upper left")."""
    m = np.nan_to_num(np.asarray(heatmap, np.float64))
    if m.ndim != 2 or m.size == 0 or m.max() <= 0:
        return "nowhere"
    strong = np.where(m >= STRONG * m.max(), m, 0.0)
    ys, xs = np.indices(m.shape)
    cy = float((ys * strong).sum() / strong.sum()) / max(m.shape[0] - 1, 1)
    cx = float((xs * strong).sum() / strong.sum()) / max(m.shape[1] - 1, 1)
    row = ROWS[min(int(cy * 3), 2)]
    col = COLUMNS[min(int(cx * 3), 2)]
    if row == "middle" and col == "centre":
        return "the centre"
    if row == "middle":
        return f"the {col} side"
    if col == "centre":
        return f"the {row}"
    return f"the {_CORNER_ROWS[row]} {col}"


def describe_map(e: Explanation, class_names: Sequence[str]) -> str:
    """ "Grad-CAM for 7: strongest at the top" (or that the map is empty)."""
    title = METHODS[e.method].title if e.method in METHODS else e.method
    name = class_names[e.label] if 0 <= e.label < len(class_names) else str(e.label)
    if e.empty:
        return f"{title} for {name}: an empty map, no evidence for it anywhere"
    where = strongest_region(e.heatmap)
    return f"{title} for {name}: strongest {_preposition(where)} {where}"


def _preposition(where: str) -> str:
    if where.endswith("side"):
        return "on"
    return "at" if where in ("the top", "the bottom") else "in"


def describe(report: Report, class_names: Sequence[str]) -> str:
    """The map in words, with how far to trust it ("...; beats the ink map")."""
    words = describe_map(report.explanation, class_names)
    return words if report.trust is None else f"{words}; {report.trust.verdict}"
