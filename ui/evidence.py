"""Drawing the evidence: look-alikes, the atlas and the layer view. Widgets and pictures
only; every number comes from `model.why.neighbours`, `model.why.atlas` and `model.why.layers`."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from model.why.atlas import Atlas, Placement
from model.why.layers import Activations, Patches, feature_grid, grid_columns
from model.why.neighbours import Neighbours, load_index
from ui.widgets import enlarge, inline_image, label_angle

#: Look-alikes per row of the gallery.
COLUMNS = 8
#: Side of each look-alike and patch, in pixels.
THUMB = 84


#: The Explain page's source for a training example, and how a page sends one there.
TRAINING = "Training image"
TRAINING_INDEX = "explain_train_index"
FROM_EVIDENCE = "_from_evidence"


def training_example(clf, index: int) -> tuple[int, tuple[np.ndarray, int]]:
    """(examples held, (image (28, 28) uint8, label)) of the training set the model's
    look-alike index holds. Raises EvidenceError (what is missing, and the command that
    makes it) where it has none."""
    index_ = load_index(clf)
    i = min(max(int(index), 0), len(index_) - 1)
    return len(index_), (index_.images[i], int(index_.labels[i]))


def open_in_explain(index: int) -> None:
    """Open training example #index on the Explain page."""
    st.session_state[TRAINING_INDEX] = int(index)
    st.session_state[FROM_EVIDENCE] = True
    st.switch_page("app_pages/explain.py")


def look_alikes_view(nb: Neighbours, verdict: str = "digit", thing: str = "a digit") -> None:
    """The credibility line, then the look-alikes nearest first, each with its training
    position, label and distance. verdict: the answer's; where it is `not_a_digit` the
    look-alikes' agreement is no approval (a fashion model's "not one it knows" got a
    green ✓ for "6 of 8 look-alikes are Pullovers", a user test): every input has its
    nearest training images, however far."""
    share = nb.credibility
    # (text marks, not emoji: a machine without an emoji font drew an empty box)
    icon = (
        ":green[**✓**]" if share >= 0.75 else (":orange[**!**]" if share >= 0.5 else ":red[**✗**]")
    )
    doubt = ""
    if verdict == "not_a_digit":  # ("unsure" is one of its kind, which one in doubt)
        icon = ":orange[**!**]" if share >= 0.5 else icon
        doubt = (
            f". The model does not take the input for {thing}: these are the nearest "
            "training images all the same, however far (their distances say how far)"
        )
    st.markdown(
        f"{icon} **{nb.summary}** (nearest first, in the model's `{nb.layer}` layer){doubt}"
    )
    for start in range(0, nb.k, COLUMNS):
        cols = st.columns(COLUMNS)
        for col, n in zip(cols, nb.neighbours[start : start + COLUMNS], strict=False):
            with col:
                mark = "" if n.label == nb.answer else " ✗"
                name = nb.class_names[n.label] if n.label < len(nb.class_names) else n.label
                caption = f"#{n.index} · {name}{mark} · d {n.distance:.2f}"  # ("Bag", not 8)
                inline_image(enlarge(n.image, THUMB), caption, THUMB)
                if st.button("Explain", key=f"lookalike_{n.index}", help=f"training #{n.index}"):
                    open_in_explain(n.index)
    st.caption(f"From the {nb.source}. ✗: a look-alike whose label is not the answer.")


#: The atlas' click selection: the training digit a person clicked.
ATLAS_PICK = "pick"


def picked_training_digit(event) -> int | None:
    """The training position of the atlas point clicked (a `st.altair_chart` event)."""
    chosen = (getattr(event, "selection", None) or {}).get(ATLAS_PICK) or []
    for point in chosen:
        if "training #" in point:
            return int(point["training #"])
    return None


def atlas_chart(atlas: Atlas, here: Placement | None, names: tuple[str, ...]) -> alt.Chart:
    """The map coloured by class, misread test digits as crosses, the input as a large
    black diamond (red, it was lost among class 3's red dots: category10 has no black)."""
    points = pd.DataFrame(
        {
            "x": atlas.xy[:, 0],
            "y": atlas.xy[:, 1],
            "class": [names[c] for c in atlas.labels],
            "training #": atlas.rows,
        }
    )
    base = (
        alt.Chart(points)
        .add_params(alt.selection_point(name=ATLAS_PICK, fields=["training #"], on="click"))
        .mark_circle(size=9, opacity=0.55)
        .encode(
            x=alt.X("x", axis=None),
            y=alt.Y("y", axis=None),
            color=alt.Color("class:N", scale=alt.Scale(scheme="category10")),
            tooltip=["class", "training #"],
        )
    )
    layers = [base]
    if len(atlas.misread_test):
        wrong = pd.DataFrame(
            {
                "x": atlas.misread_xy[:, 0],
                "y": atlas.misread_xy[:, 1],
                "test #": atlas.misread_test,
                "true": [names[c] for c in atlas.misread_label],
                "read as": [names[c] for c in atlas.misread_answer],
            }
        )
        layers.append(
            alt.Chart(wrong)
            .mark_point(shape="cross", size=60, color="black", filled=True)
            .encode(x="x", y="y", tooltip=["test #", "true", "read as"])
        )
    if here is not None:
        me = pd.DataFrame({"x": [here.x], "y": [here.y], "read as": [names[here.label]]})
        layers.append(
            alt.Chart(me)
            .mark_point(
                shape="diamond", size=400, color="black", filled=True, stroke="white", strokeWidth=2
            )
            .encode(x="x", y="y", tooltip=["read as"])
        )
    return alt.layer(*layers).properties(height=520)


#: The colour of the cells past a vector's end: not a value (a grey read as one).
PAD_RGB = (70, 100, 170)
#: The frame of a training patch (feature_grid's gap grey).
PAD_GREY = 64
#: Vectors of at most this many values are drawn as bars, one per value.
MAX_BARS = 32


def vector_image(v: np.ndarray) -> np.ndarray:
    """A (d,) layer output as a near-square (side, side, 3) uint8 tile (0 = black, its max
    = white; the cells past its end PAD_RGB, a colour no value has: grey ones looked like
    zeros, then like a quarter of the peak)."""
    v = np.asarray(v, np.float32).ravel()
    side = int(np.ceil(np.sqrt(len(v))))
    peak = v.max(initial=0)
    tile = np.tile(np.array(PAD_RGB, np.uint8), (side * side, 1))
    tile[: len(v)] = np.round(255 * np.clip(v / peak if peak > 0 else v, 0, 1))[:, None]
    return tile.reshape(side, side, 3)


def layer_view(
    acts: Activations, layer: str, size: int = 520, names: Sequence[str] | None = None
) -> None:
    """One layer's output: its feature maps tiled, a short vector as bars (named by
    `names` where they are its classes), a long one as a square of cells."""
    out = acts[layer]
    if out.ndim == 3:
        grid = feature_grid(out)
        h, w, c = out.shape
        cols = grid_columns(c)
        caption = (
            f"{layer}: {c} maps of {h}x{w}, each scaled to its own peak; {cols} a row, "
            f"filter 0 first: filter k is in row k // {cols}, column k % {cols} (from 0)"
        )
        inline_image(enlarge(grid, size), caption, size)
    elif out.size <= MAX_BARS:  # (ten class scores as a 4x4 grid said nothing)
        v = np.asarray(out, np.float32).ravel()
        named = names is not None and len(names) == len(v)
        cells = pd.DataFrame({"unit": list(names) if named else list(range(len(v))), "value": v})
        chart = (
            alt.Chart(cells, height=180, width=min(size, 40 * len(v)))
            .mark_bar()
            .encode(
                x=alt.X(
                    "unit:N",
                    sort=None,
                    title="class" if named else "unit",
                    axis=alt.Axis(labelAngle=label_angle(cells.unit)),
                ),
                y=alt.Y("value:Q", title="value"),
                tooltip=["unit", "value"],
            )
        )
        st.altair_chart(chart, width="content")
        st.caption(f"{layer}: {out.size} values" + (", one per class" if named else ""))
    else:
        side = min(size, 300)
        caption = (
            f"{layer}: {out.size} values row by row, brightest = largest; the blue cells "
            "after the last value fill the square, and are no values"
        )
        inline_image(enlarge(vector_image(out), side), caption, side)


def patches_view(patches: Patches, active: np.ndarray | None, top_filters: int = 6) -> None:
    """For the filters the input excites most (all, without an input): the training
    patches that excite each one most."""
    filters = patches.images.shape[0]
    order = np.argsort(-active)[:top_filters] if active is not None else np.arange(top_filters)
    for f in order[: min(top_filters, filters)]:
        cols = st.columns([1.2] + [1] * patches.images.shape[1])
        cols[0].markdown(f"**filter {f}**" + ("" if active is None else f"  \n{active[f]:.2f}"))
        for col, crop, idx in zip(cols[1:], patches.images[f], patches.index[f], strict=True):
            with col:  # (framed: a white patch on the white page had no edge)
                framed = np.pad(np.asarray(enlarge(crop, 60)), 2, constant_values=PAD_GREY)
                inline_image(framed, f"#{idx}", 64)
