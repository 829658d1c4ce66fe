"""The heatmaps' colour scale reads weak -> strong for everyone: lightness rises steadily,
and its ends stay far apart under simulated red-green colour blindness (colorspacious,
CAM02-UCS). The rainbow 'jet' it replaced fails the same checks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from model.why.overlay import HEATMAP_CMAP, overlay

colorspacious = pytest.importorskip("colorspacious")

#: Smallest CAM02-UCS distance between the scale's two ends, as seen with each colour
#: vision (a distance of ~2 is just noticeable; the ends must be plainly different).
MIN_END_DISTANCE = 40.0
VISIONS = {
    "normal": None,
    "deuteranopia": {"name": "sRGB1+CVD", "cvd_type": "deuteranomaly", "severity": 100},
    "protanopia": {"name": "sRGB1+CVD", "cvd_type": "protanomaly", "severity": 100},
}


def _seen(cmap: str, vision: dict | None) -> np.ndarray:
    """(256, 3) CAM02-UCS J'a'b' of the scale as a person with that vision sees it."""
    rgb = colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    if vision is not None:
        rgb = np.clip(colorspacious.cspace_convert(rgb, vision, "sRGB1"), 0, 1)
    return colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def _monotonic_lightness(cmap: str, vision: dict | None) -> bool:
    lightness = _seen(cmap, vision)[:, 0]
    return bool((np.diff(lightness) > 0).all())


def _end_distance(cmap: str, vision: dict | None) -> float:
    jab = _seen(cmap, vision)
    return float(np.linalg.norm(jab[-1] - jab[0]))


@pytest.mark.parametrize("vision", list(VISIONS))
def test_the_scale_is_ordered_and_its_ends_apart_for_everyone(vision):
    assert _monotonic_lightness(HEATMAP_CMAP, VISIONS[vision])
    assert _end_distance(HEATMAP_CMAP, VISIONS[vision]) > MIN_END_DISTANCE


def test_jet_fails_what_the_scale_passes():
    """The checks can fail: the old rainbow scale is not ordered in lightness."""
    assert not _monotonic_lightness("jet", None)
    assert not _monotonic_lightness("jet", VISIONS["deuteranopia"])


def test_every_overlay_uses_the_scale():
    image = np.zeros((8, 8), np.float32)
    heat = np.ones((8, 8), np.float32)
    top = (np.array(colormaps[HEATMAP_CMAP](1.0)[:3]) * 255).round()
    shown = overlay(image, heat, alpha=1.0).reshape(-1, 3)
    assert np.abs(shown - top).max() <= 1
