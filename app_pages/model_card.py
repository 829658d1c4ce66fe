"""The model: architecture, card (accuracy, per-class metrics, confusion, calibration,
training curves) and a gallery of the test images it gets wrong."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from model.runtime.graph import folded_graph, layer_edges, layer_table
from ui.audit import audit_section
from ui.network import network_dot
from ui.resources import default_data_dir, test_split
from ui.sidebar import card_line, current
from ui.widgets import curves_alt, enlarge, label_angle

GALLERY = 24

choice = current()
clf = choice.clf
card = clf.card
metrics = card.metrics
names = list(clf.class_names)

st.title(f"Model: {clf.name}")
st.caption(card_line(clf))

# ---------------------------------------------------------------- architecture
st.subheader("Architecture")
rows = [
    {
        "layer": r.name,
        "type": r.kind,
        "output shape": str(r.output_shape),
        "parameters": r.parameters,
        "explainable": "yes" if r.name in clf.conv_layers else "",
    }
    for r in layer_table(clf.net)
]
with st.expander("Layer table", expanded=False):
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
kinds = {r.name: r.kind for r in layer_table(clf.net)}
boxes, edges = folded_graph(layer_edges(clf.net), kinds)
# Left to right, or top to bottom on a phone (ui/widgets.py's CSS shows one of the two)
for where, direction in (("wide", "LR"), ("narrow", "TB")):
    with st.container(key=f"dl-graph-{where}"):
        st.graphviz_chart(network_dot(boxes, edges, clf.conv_layers, direction), width="stretch")
st.caption(
    "Each box is a layer that computes; the smaller names under it are the layers that "
    "normalise, pool, flatten or drop out what it made. Shaded: the layers a map can explain."
)

audit_section(clf.name, clf.reads_digits)

if not clf.is_digit:
    st.info(
        f"{clf.name} is not a digit model: there is no MNIST test set to measure it on here, "
        "so no confusion matrix or gallery (ImageNet accuracy was not measured by DigitLens)."
    )
    st.stop()
#: What this page draws; a card without one of them (a user's partial card) gets the hint.
NEEDED = ("accuracy", "test_samples", "per_class", "confusion_matrix", "ece", "misclassified")
if metrics is None or any(getattr(metrics, k) is None for k in NEEDED):
    st.info(
        "This model has no card with metrics: run `python -m training.evaluate --model "
        "PATH` to make one."
    )
    st.stop()

# ---------------------------------------------------------------- metrics
st.subheader("Test-set performance")
m1, m2, m3, m4 = st.columns(4)
m1.metric("accuracy", f"{metrics.accuracy:.2%}")
m2.metric("errors", f"{len(metrics.misclassified)} of {metrics.test_samples:,}")
m3.metric("calibration error (ECE)", f"{metrics.ece:.4f}")
m4.metric("parameters", f"{card.parameters or 0:,}")

per_class = pd.DataFrame(
    {"class": names, **{k: metrics.per_class[k] for k in ("precision", "recall", "support")}}
)
cm = np.array(metrics.confusion_matrix)
cm_df = pd.DataFrame(
    [
        {"true": names[i], "predicted": names[j], "count": int(cm[i, j])}
        for i in range(len(names))
        for j in range(len(names))
    ]
)
left, right = st.columns(2)
left.dataframe(
    per_class,
    hide_index=True,
    width="stretch",
    column_config={
        k: st.column_config.NumberColumn(format="%.4f") for k in ("precision", "recall")
    },
)
base = alt.Chart(cm_df, height=320, title="confusion matrix (off-diagonal: errors)")
cells = {"x": alt.X("predicted:N", sort=names), "y": alt.Y("true:N", sort=names)}
right_cells = (
    base.transform_filter("datum.true == datum.predicted")
    .mark_rect(color="#e6e9ee")
    .encode(**cells, tooltip=["true", "predicted", "count"])
)
# The errors on their own scale (the diagonal's thousands would wash every error out to
# the palest shade); a cell with none stays blank.
errors = (
    base.transform_filter("datum.true != datum.predicted && datum.count > 0")
    .mark_rect()
    .encode(
        **cells,
        color=alt.Color("count:Q", scale=alt.Scale(scheme="orangered"), legend=None),
        tooltip=["true", "predicted", "count"],
    )
)
heat = right_cells + errors
# Counts in dark type, white on the darker half of the error scale; no "0" in the empty
# cells, so that the errors stand out.
most = int(
    max((cm[i, j] for i in range(len(names)) for j in range(len(names)) if i != j), default=0)
)
text = (
    base.transform_filter("datum.count > 0")
    .mark_text(fontSize=11)
    .encode(
        **cells,
        text="count:Q",
        color=alt.condition(
            f"datum.true != datum.predicted && datum.count > {most / 2}",
            alt.value("white"),
            alt.value("#1f2430"),
        ),
    )
)
right.altair_chart(
    (heat + text)
    .configure_axis(
        labelFontSize=13,
        titleFontSize=13,
        labelColor="#1f2430",
        titleColor="#1f2430",
        labelOverlap=False,  # (Vega hid every other class's name at this size)
    )
    .configure_axisY(labelAngle=0)
    .configure_axisX(labelAngle=label_angle(names)),
    width="stretch",
)

left, right = st.columns(2)
rel = pd.DataFrame(metrics.reliability or [])
if not rel.empty:
    diag = (
        alt.Chart(pd.DataFrame({"c": [0, 1]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x=alt.X("c:Q", title="confidence"), y=alt.Y("c:Q", title="accuracy"))
    )
    pts = (
        alt.Chart(rel, height=300, title="calibration: accuracy against confidence")
        .mark_line(point=True)
        .encode(
            x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=["confidence", "accuracy", "count"],
        )
    )
    left.altair_chart(diag + pts, width="stretch")


def curves_charts(history: dict[str, list[float]]) -> list[alt.Chart]:
    """Loss and accuracy per epoch, training and validation, as charts that fit their
    column: the training script's PNG shrank to a phone's width, its text ~4 px (a user
    test). One chart a measure found in the history, its lines by split."""
    charts = []
    for measure in ("loss", "accuracy"):
        splits = {"training": measure, "validation": f"val_{measure}"}
        rows = [
            {"epoch": e + 1, "split": split, measure: v}
            for split, key in splits.items()
            for e, v in enumerate(history.get(key) or [])
        ]
        if rows:
            charts.append(
                # (the height is the whole chart's: at 180 its title, legend and axes left
                # the plot no height at all, its lines flat; the legend sits inside it)
                alt.Chart(pd.DataFrame(rows), height=240, title=f"training curves: {measure}")
                .mark_line(point=True)
                .encode(
                    x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
                    y=alt.Y(f"{measure}:Q", scale=alt.Scale(zero=False)),
                    color=alt.Color("split:N", legend=alt.Legend(orient="top-right", title=None)),
                    tooltip=["epoch", "split", alt.Tooltip(f"{measure}:Q", format=".4f")],
                )
            )
    return charts


curves = clf.artifact.keras_path.parent / (card.curves or "")
if card.history and (charts := curves_charts(card.history)):
    for chart in charts:
        right.altair_chart(chart, width="stretch")
    right.caption(curves_alt(card.history).capitalize() + ".")
elif card.curves and curves.is_file():
    right.image(
        str(curves),
        caption="training curves",
        width="stretch",
        alt=curves_alt(card.history or {}),
    )


def replicas(n: int) -> str:
    """ "1 replica", "2 replicas" (the card said "1 replica(s)")."""
    return f"{n} replica" + ("" if n == 1 else "s")


training = card.training or {}
if training:
    st.caption(
        f"Trained with `{training.get('command')}` · seed {training.get('seed')} · "
        f"{training.get('epochs_run')} epochs (best {training.get('best_epoch')}) · "
        f"{training.get('seconds', 0) / 60:.0f} min on {replicas(training.get('replicas', 1))}"
    )

# ---------------------------------------------------------------- gallery
st.subheader("What it gets wrong")
data_dir = default_data_dir()
split = test_split(card.dataset_or_default, data_dir) if data_dir else None
if split is None:
    st.info(
        "The gallery needs the test set locally: set DIGITLENS_DATA_DIR to the folder "
        "with the IDX files."
    )
    st.stop()
wrong = metrics.misclassified[:GALLERY]
probs = clf.probabilities(split.images[wrong].astype(np.float32) / 255.0)
cols = st.columns(8)
for k, (idx, p) in enumerate(zip(wrong, probs, strict=True)):
    with cols[k % 8]:
        true, read = names[split.labels[idx]], names[int(p.argmax())]
        st.image(enlarge(split.images[idx], 84), alt=f"test image #{idx}: a {true}, read as {read}")
        st.caption(f"#{idx}: true {true}, read {read}")
        if st.button("Explain", key=f"gallery_{idx}"):
            st.session_state["explain_test_index"] = int(idx)
            st.session_state["_from_gallery"] = True
            st.switch_page("app_pages/explain.py")
