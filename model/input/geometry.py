"""Where a model input's pixels came from: the affine steps of the digit pipeline
(`model.input.preprocessing`), and a map on the 28x28 input carried back through them
onto the image the user sees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """How the 28x28 input maps back onto the (display copy of the) original image.

    The ink was analysed on a working copy of `work_hw` pixels; `box` (y0, y1,
    x0, x1) is the crop in working pixels; the crop was resized to `fitted_hw`
    and pasted with its top-left corner at `offset` (row, col) in the 28x28
    field. `display_hw` is the size of `Preprocessed.original`.
    """

    display_hw: tuple[int, int]
    work_hw: tuple[int, int]
    box: tuple[int, int, int, int]
    fitted_hw: tuple[int, int]
    offset: tuple[int, int]


def project_back(heatmap: np.ndarray, g: Geometry) -> np.ndarray:
    """Undo centring, fitting, cropping and scaling: (28, 28) -> display (H, W).

    The whole 28x28 field is mapped back through the inverse of the pipeline's
    affine steps, not just the part where the ink's box was pasted: evidence the
    model found beside the strokes stays beside them. Where the field reaches past
    the image it is clipped; display pixels outside the field get 0.
    """
    hm = np.asarray(heatmap, np.float32)
    oy, ox = g.offset
    fh, fw = g.fitted_hw
    y0, y1, x0, x1 = g.box
    sy, sx = (y1 - y0) / fh, (x1 - x0) / fw  # working pixels per field pixel
    (dh, dw), (wh, ww) = g.display_hw, g.work_hw
    # Pixel centres of the display, in working pixels, then in field pixels.
    wy = (np.arange(dh, dtype=np.float64) + 0.5) * wh / dh
    wx = (np.arange(dw, dtype=np.float64) + 0.5) * ww / dw
    fy = (wy - y0) / sy + oy - 0.5
    fx = (wx - x0) / sx + ox - 0.5
    coords = np.meshgrid(fy, fx, indexing="ij")
    from scipy import ndimage  # here, not at the top: 0.2 s of every process' start-up

    out = ndimage.map_coordinates(hm, coords, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
