"""The pictures of an audit's report: thumbnails, histograms and the atlas, each as a
data URI (inline in the page: it loads nothing from anywhere)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from model.why.atlas import Atlas

THUMB_SIDE = 84


def png(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def to_display(x: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """A model-format input (H, W[, C]) -> (side, side[*], 3) uint8 for a thumbnail."""
    a = np.asarray(x, np.float32)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    img = Image.fromarray((a * 255).astype(np.uint8))
    scale = side / max(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.NEAREST)
    rgb = np.asarray(img.convert("RGB"))
    return rgb


def plot(values: np.ndarray, title: str, bins: int = 20) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.4), dpi=100)
    ax.hist(values[np.isfinite(values)], bins=bins, color="#3b528b")
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return figure(fig)


def figure(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


#: Atlas points drawn behind the audited inputs (a random subset beyond this).
ATLAS_SHOWN = 6000


def atlas_plot(
    atlas: Atlas,
    xy: np.ndarray,
    label: np.ndarray,
    wrong: np.ndarray,
    refused: np.ndarray,
    names: list[str],
) -> str:
    """The training set's atlas in grey, the audited inputs on it coloured by their
    answer, mistakes as black crosses and inputs judged not a digit as hollow triangles."""
    import matplotlib

    from model.classifier import are_digits
    from model.judge.verdict import VERDICT_WORDS

    matplotlib.use("Agg")
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=100)
    shown = rng.permutation(len(atlas.xy))[:ATLAS_SHOWN]
    ax.scatter(*atlas.xy[shown].T, s=2, c="#c8c8c8", label="training digits")
    plain = np.flatnonzero(~wrong & ~refused)
    plain = plain[rng.permutation(len(plain))[:ATLAS_SHOWN]]
    ax.scatter(*xy[plain].T, s=4, c=label[plain], cmap="tab10", vmin=0, vmax=9, alpha=0.7)
    ax.scatter(*xy[wrong].T, s=36, c="black", marker="x", label="read wrong")
    ax.scatter(
        *xy[refused].T,
        s=30,
        facecolors="none",
        edgecolors="black",
        marker="^",
        label=f"judged {VERDICT_WORDS[are_digits(names)]['not_a_digit']}",
    )
    halo = [pe.withStroke(linewidth=3, foreground="white")]
    for c, (cx, cy) in enumerate(atlas.centres()):
        if np.isfinite(cx) and c < len(names):
            ax.text(
                cx,
                cy,
                names[c],
                fontsize=13,
                weight="bold",
                ha="center",
                va="center",
                path_effects=halo,
                zorder=5,
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(
        f"inputs (coloured by answer) on the training set's atlas ({atlas.method})", fontsize=9
    )
    fig.tight_layout()
    return figure(fig)
