"""A map laid over the user's own image: one pure function, the same for every front end
(the app, the command line's PNGs, the server's overlays, the audit's report).
"""

from __future__ import annotations

import numpy as np

#: The colour scale of every heatmap: inferno (van der Walt & Smith's viridis family):
#: its lightness rises steadily from weak (dark purple) to strong (pale yellow) evidence,
#: and its ends stay far apart for people with red-green colour blindness (deuteranopia,
#: protanopia: about 1 man in 12). The rainbow "jet" it replaces is not ordered in
#: lightness, and its red and green merge for them. Of the family, inferno's red-purple
#: middle stands out on both the white strokes and the black canvas, where cividis's grey
#: middle fades into the strokes (looked at on a drawn 7 with IG and Grad-CAM).
#: tests/model/test_colour_scale.py measures the claims (colorspacious' CVD simulation).
HEATMAP_CMAP = "inferno"
#: Evidence below this share of the map's peak is not drawn, so the image shows through.
OVERLAY_FLOOR = 0.15
#: How strongly the strongest evidence covers the image (0: invisible, 1: opaque).
OVERLAY_OPACITY = 0.45
#: On light paper the map darkens what it covers, in proportion to its cover, down to
#: PAPER_DIM of its brightness under the strongest evidence: inferno's strongest, pale
#: yellow, vanished on white paper (its peak blended to (254, 255, 214), 5 levels of
#: luminance from the paper, where half the peak showed 45 levels darker). Darkened, the
#: peak shows 81 levels darker and half of it 108. The paper is darkened only where that
#: sets the peak further from it than plain blending does (`darkens`: paper over about 183
#: levels at the default opacity; grey paper at 130 shows the plain peak 51 levels lighter,
#: the darkened one 12). Where the map is not drawn (and at opacity 0) the image is as it
#: was; a dark image (the canvas, white strokes on black; MNIST) is never darkened
#: (tests/model/test_colour_scale.py).
PAPER_DIM = 0.45
#: Luminance weights (ITU-R BT.601) of an RGB level.
LUMA = np.array([0.299, 0.587, 0.114])
#: The paper's level is the median of about this many of the image's pixels.
MEDIAN_PIXELS = 65536


def _dimmed(cover):
    """What of the paper's brightness stays under a map drawn with this cover (0: all of
    it; OVERLAY_OPACITY: PAPER_DIM; never below 0)."""
    return np.maximum(1 - (1 - PAPER_DIM) * cover / OVERLAY_OPACITY, 0.0)


def darkens(paper: float, alpha: float = OVERLAY_OPACITY, cmap: str = HEATMAP_CMAP) -> bool:
    """Whether darkening paper of luminance `paper` (0-255) sets the map's strongest
    evidence further from it than blending alone: true for light paper only."""
    from matplotlib import colormaps

    peak = float(np.asarray(colormaps[cmap](1.0)[:3]) * 255 @ LUMA)
    plain = alpha * (peak - paper)
    darkened = paper * float(_dimmed(alpha)) * (1 - alpha) + alpha * peak - paper
    return abs(darkened) > abs(plain)


def overlay(
    image: np.ndarray,
    heatmap: np.ndarray,
    cmap: str = HEATMAP_CMAP,
    alpha: float = OVERLAY_OPACITY,
    floor: float = OVERLAY_FLOOR,
) -> np.ndarray:
    """Blend a [0, 1] heatmap over an image: (H, W) or (H, W, 3) -> (H, W, 3) uint8 RGB.

    The heatmap is resized to the image; evidence under `floor` x the peak is not
    drawn and the rest increasingly, so the strokes underneath stay visible. On a light
    image (paper: its median luminance, where `darkens`) the map darkens what it covers
    (PAPER_DIM), so its strongest evidence, pale yellow, shows.
    """
    from matplotlib import colormaps
    from PIL import Image

    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    step = max(1, int((img.shape[0] * img.shape[1] / MEDIAN_PIXELS) ** 0.5))  # (a sample)
    light = bool(img.size) and darkens(float(np.median(img[::step, ::step] @ LUMA)), alpha, cmap)
    h, w = img.shape[:2]
    hm = np.asarray(heatmap, np.float32)
    if hm.shape != (h, w):
        hm = np.asarray(Image.fromarray(hm, mode="F").resize((w, h), Image.Resampling.BILINEAR))
    hm = np.clip(np.nan_to_num(hm), 0, 1)
    colour = colormaps[cmap](hm)[..., :3] * 255  # (H, W, 3)
    a = alpha * np.sqrt(np.clip((hm - floor) / (1 - floor), 0, 1))[..., None]
    base = img * _dimmed(a) if light else img
    return (np.clip(base, 0, 255) * (1 - a) + colour * a).round().astype(np.uint8)
