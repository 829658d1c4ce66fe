"""Every explanation method side by side on one input, and two models compared."""

import time

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from model import BlankImageError, ImageError
from model.explain import METHODS, available_methods, explain
from model.faithfulness import faithfulness
from model.samples import EXAMPLES, drawn_digit
from ui.resources import BUNDLED, bundled_classifier, default_data_dir, test_split
from ui.sidebar import current
from ui.widgets import enlarge, heatmap_views, prediction_header

choice = current()
clf = choice.clf
st.title("Explain")

SOURCES = ["Example drawing", "Draw", "Upload", "Test-set image"]
if st.session_state.pop("_from_gallery", False):  # arrived from the Model page's gallery
    st.session_state["explain_source"] = "Test-set image"
source = st.radio("Input", SOURCES, horizontal=True, key="explain_source")

x = stages = None
label_note = ""
try:
    if source == "Example drawing":
        digit = st.select_slider("Example", EXAMPLES, value=7, key="explain_example")
        stages = clf.preprocess_stages(drawn_digit(digit))
    elif source == "Draw":
        canvas = st_canvas(
            stroke_width=20,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=280,
            height=280,
            return_image_data=True,
            key="explain_canvas",
        )
        if canvas.image_data is None:
            raise BlankImageError("nothing drawn yet")
        stages = clf.preprocess_stages(canvas.image_data)
    elif source == "Upload":
        f = st.file_uploader(
            "An image",
            type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
            key="explain_upload",
        )
        if f is None:
            st.info("Choose an image to explain.")
            st.stop()
        stages = clf.preprocess_stages(f.getvalue())
    else:
        data_dir = default_data_dir()
        split = test_split(clf.card.get("dataset", "mnist"), data_dir) if data_dir else None
        if split is None:
            st.warning(
                "The test set is not available locally: set DIGITLENS_DATA_DIR to the "
                "folder with the IDX files."
            )
            st.stop()
        index = st.number_input("Test image index", 0, len(split) - 1, key="explain_test_index")
        x = split.images[int(index)].astype(np.float32) / 255.0
        label_note = f"true label: {clf.class_names[int(split.labels[int(index)])]}"
except BlankImageError:
    st.info("Draw a digit to explain it.")
    st.stop()
except ImageError as exc:
    st.error(f"That image cannot be used: {exc}")
    st.stop()

target = stages if stages is not None else x
pred = clf.to_prediction(clf.probabilities((stages.x if stages is not None else x)[None])[0])
head = st.columns([1, 3])
with head[0]:
    prediction_header(pred)
    if label_note:
        st.caption(label_note)
head[1].caption(
    f"Each map explains **{pred.class_name}** for {clf.name}"
    + (f", on layer **{choice.layer or 'conv3'}**" if clf.conv_layers else "")
    + ". Faithfulness: insertion minus deletion AUC, relative to a random ranking of the "
    "pixels (above 0 beats random; higher is better)."
)

methods = available_methods(clf)
cols = st.columns(len(methods))
for col, method in zip(cols, methods, strict=True):
    layer = choice.layer if METHODS[method].needs_conv else None
    start = time.perf_counter()
    e = explain(clf, target, method=method, layer=layer)
    ms = (time.perf_counter() - start) * 1e3
    f = faithfulness(clf.probabilities, e.x, e.heatmap, e.label)
    with col:
        st.markdown(f"**{METHODS[method].title}**")
        st.image(heatmap_views(e, 200)[1], width="stretch")
        st.metric(
            "faithfulness",
            f"{f.score:+.2f}",
            help=f"deletion AUC {f.deletion_auc:.2f} "
            f"(random {f.random_deletion_auc:.2f}), insertion AUC {f.insertion_auc:.2f} "
            f"(random {f.random_insertion_auc:.2f})",
        )
        st.caption(f"{METHODS[method].description} Cost: {METHODS[method].cost}; {ms:.0f} ms here.")

st.divider()
st.subheader("Compare two models")
others = [n for n in BUNDLED if n != clf.name] or list(BUNDLED)
other_name = st.selectbox("Compare with", others, key="compare_with")
other = bundled_classifier(other_name)
st.caption(
    "Both models get the same 28x28 input; each map is on the same 0-1 colour scale. "
    "Models without convolutions show saliency."
)
x_in = stages.x if stages is not None else x
pair = st.columns(2)
for col, model in zip(pair, (clf, other), strict=True):
    method = choice.method if choice.method in available_methods(model) else "saliency"
    layer = (
        (choice.layer if choice.layer in model.conv_layers else None)
        if METHODS[method].needs_conv
        else None
    )
    e = explain(model, x_in, method=method, layer=layer)
    p = model.to_prediction(e.probabilities)
    with col:
        st.markdown(
            f"**{model.name}** reads **{p.class_name}** ({p.probability:.1%}) "
            f"· {METHODS[method].title}" + (f" on {layer}" if layer else "")
        )
        st.image(heatmap_views(e, 260)[1], width=260)
if stages is not None:
    st.image(enlarge(stages.x, 112), caption="the shared input", width=112)
