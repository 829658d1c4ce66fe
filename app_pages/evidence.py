"""Evidence from the training set: the look-alikes of an input, where it lands on the
digit atlas, and what each layer sees."""

import numpy as np
import streamlit as st

from model import ImageError
from model.errors import EvidenceError
from model.input.samples import EXAMPLES, drawn_digit
from model.why.atlas import load_atlas
from model.why.layers import load_patches
from model.why.neighbours import model_arg
from ui.canvas import (
    DRAW_PAD,
    drawing_from_state,
    drawing_pad,
    opens_on_drawing,
)
from ui.evidence import (
    atlas_chart,
    layer_view,
    look_alikes_view,
    open_in_explain,
    patches_view,
    picked_training_digit,
)
from ui.evidence_build import missing_evidence
from ui.inputs import (
    DRAW_SOURCE,
    EXAMPLE_SOURCE,
    TEST_SOURCE,
    UPLOAD_SOURCE,
    follows_the_model,
)
from ui.resources import default_data_dir, test_split
from ui.sidebar import current
from ui.widgets import enlarge, prediction_header

choice = current()
clf = choice.clf
st.title("Evidence")
st.caption(
    "Which training examples the model finds most alike, where the input lands on a map "
    "of the training set, and what each layer sees."
)

SOURCES = [EXAMPLE_SOURCE, DRAW_SOURCE, TEST_SOURCE] if clf.is_digit else [UPLOAD_SOURCE]
if clf.is_digit and not clf.reads_digits:  # fashion-cnn: its own images first
    SOURCES = [TEST_SOURCE, DRAW_SOURCE, EXAMPLE_SOURCE]
if st.session_state.get("evidence_source") not in SOURCES:
    st.session_state.pop("evidence_source", None)
follows_the_model("evidence_source", clf.reads_digits, clf.name, SOURCES[0])
WHAT = "a digit" if clf.reads_digits else clf.judge.thing  # for the words below
if DRAW_SOURCE in SOURCES and opens_on_drawing("evidence_source"):  # drawn before coming here
    st.session_state["evidence_source"] = DRAW_SOURCE
source = st.radio("Input", SOURCES, horizontal=True, key="evidence_source", persist_state="session")
PAD = "evidence_pad"  # (it keeps the Draw page's drawing: one drawing for both pages)

image = None
if source == EXAMPLE_SOURCE:
    digit = st.selectbox("Example", EXAMPLES, key="evidence_example", persist_state="session")
    image = drawn_digit(digit)
elif source == DRAW_SOURCE:
    drawing = drawing_from_state(st.session_state.get(PAD) or {})
    drawing_pad(PAD, clf, mode="browser", kept_as=DRAW_PAD)
    image = drawing.png if drawing is not None else None
elif source == TEST_SOURCE:
    data_dir = default_data_dir()
    test = test_split(clf.card.dataset or "mnist", data_dir) if data_dir else None
    if test is None:
        folder = clf.card.dataset or "mnist"
        st.info(f"Set DIGITLENS_DATA_DIR to the folder holding {folder}/ to pick test images.")
        st.stop()
    i = st.number_input(
        "Test image #", 0, len(test) - 1, 0, key="evidence_test_index", persist_state="session"
    )
    image = test.images[int(i)]
else:
    upload = st.file_uploader("An image", key="evidence_upload")
    image = upload.getvalue() if upload is not None else None

if image is None:
    st.info(f"Draw {WHAT} (or pick an example) to see its evidence.")
    st.stop()
try:
    x = clf.preprocess(image)
except ImageError as exc:
    st.warning(str(exc))
    st.stop()
pred = clf.predict_input(x)
left, right = st.columns([1, 4])
with left:
    st.image(
        enlarge(x if x.ndim == 2 else x[..., 0]),
        caption="what the model sees",
        alt="the 28x28 input the model reads",
    )
with right:
    prediction_header(pred, clf.class_names)

looks, atlas_tab, layers_tab = st.tabs(["Look-alikes", "Atlas", "Layers"])

with looks:
    k = st.slider("Look-alikes", 4, 32, 8, step=4, key="evidence_k", persist_state="session")
    try:
        look_alikes_view(clf.neighbours(image, k=k), pred.verdict, clf.judge.thing)
    except EvidenceError as exc:
        missing_evidence(clf, str(exc), "looks")

with atlas_tab:
    try:
        atlas = load_atlas(clf)
        here = clf.place(image)
    except EvidenceError as exc:
        missing_evidence(clf, str(exc), "atlas")
    else:
        event = st.altair_chart(
            atlas_chart(atlas, here, clf.class_names),
            width="stretch",
            on_select="rerun",
            key="evidence_atlas",
        )
        picked = picked_training_digit(event)
        if picked is not None:  # a click on a training digit: explain it
            open_in_explain(picked)
        noun = "digit" if clf.reads_digits else "image"
        st.caption(
            f"Click a point to explain that training {noun}. "
            f"{len(atlas.rows):,} training {noun}s mapped by {atlas.method} "
            f"(trustworthiness {atlas.trustworthiness:.3f}); black crosses: the "
            f"{len(atlas.misread_test)} test {noun}s the model misreads; black diamond: this "
            f"input (read as {clf.class_names[here.label]}, nearest the "
            f"{clf.class_names[here.nearest_class]} cluster)."
        )

#: The smallest training patch (pixels a side) worth showing first on the Layers tab.
READABLE_PATCH = 8

with layers_tab:
    acts = clf.activations(image)
    names = list(acts.names)
    maps = list(acts.feature_maps)
    built = load_patches(clf)
    # First shown: the first layer whose training patches a person can read (conv1's are
    # 3x3 pixels: meaningless corners), else the first feature maps.
    readable = [n for n, p in built.items() if p.images.shape[-1] >= READABLE_PATCH and n in names]
    default = names.index(readable[0] if readable else maps[0]) if maps else 0
    layer = st.selectbox(  # (a choice per model: another model's layers are others)
        "Layer", names, index=default, key=f"evidence_layer_{clf.name}", persist_state="session"
    )
    layer_view(acts, layer, names=clf.class_names if layer == names[-1] else None)
    patches = built.get(layer)
    if patches is not None:
        st.markdown(
            "**The training patches that excite a filter most**, for the filters this "
            "input excites most (the number: the filter's peak response here)"
        )
        out = acts[layer]
        patches_view(patches, out.reshape(-1, out.shape[-1]).max(0).astype(np.float32))
    elif built:  # (made for the convolutions: a dense layer has no patch of the input)
        st.caption(
            f"The training patches that excite a filter most are shown for the convolution "
            f"layers: {', '.join(built)}."
        )
    elif maps:
        missing_evidence(
            clf,
            "No training patches for this model yet: make them once from its training set "
            f"with `python -m training.evidence --model {model_arg(clf)} --data-dir DIR`.",
            "layers",
        )
