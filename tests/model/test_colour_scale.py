"""The heatmaps' colour scale reads weak -> strong for everyone: lightness rises steadily,
and its ends stay far apart under simulated red-green colour blindness (colorspacious,
CAM02-UCS). The rainbow 'jet' it replaced fails the same checks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from model.why.overlay import HEATMAP_CMAP, OVERLAY_OPACITY, darkens, overlay

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


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize("paper", [255, 235, 200])
def test_the_strongest_evidence_shows_on_paper(paper):
    """On a light image (dark ink on paper) the peak of a map stands out from the paper
    as half of it does: inferno's pale yellow peak vanished on white paper (5 levels of
    luminance) while half the peak showed 45 levels darker. Where there is no map, the
    paper is as it was."""
    image = np.full((4, 30), paper, np.uint8)
    heat = np.zeros((4, 30), np.float32)
    heat[:, 10:20], heat[:, 20:] = 0.5, 1.0
    shown = overlay(image, heat)
    lum = _luminance(shown)
    half, peak = (abs(lum[:, i].mean() - paper) for i in (15, 25))
    assert peak >= 40 and half >= 40, (peak, half)
    assert (shown[:, :10] == paper).all()


def test_a_dark_image_is_never_darkened():
    """The canvas (white strokes on black) keeps its look under the map: a stroke under
    the peak is blended with the scale as before, not darkened first."""
    image = np.zeros((8, 8), np.uint8)
    image[:, 3:5] = 255
    heat = np.ones((8, 8), np.float32)
    top = np.array(colormaps[HEATMAP_CMAP](1.0)[:3]) * 255
    shown = overlay(image, heat).astype(float)
    expected = 255 * (1 - OVERLAY_OPACITY) + top * OVERLAY_OPACITY
    assert np.abs(shown[0, 3] - expected).max() <= 1


@pytest.mark.parametrize("paper", [160, 130, 100])
def test_grey_paper_keeps_its_plain_blend(paper):
    """Paper darkened under the map only where that shows the peak better: on grey paper
    (a dim photo) the plain pale yellow stands 38-65 levels lighter than the paper, and
    darkened it came within 12 of it (the rule was any image whose mean passed 0.5)."""
    image = np.full((4, 30), paper, np.uint8)
    image[:, ::7] = 20  # some ink: the paper's level is its median, not its mean
    heat = np.zeros((4, 30), np.float32)
    heat[:, 20:] = 1.0
    lum = _luminance(overlay(image, heat))
    assert lum[:, 22:27].mean() - paper >= 35
    assert not darkens(paper) and darkens(200) and darkens(255) and not darkens(0)
