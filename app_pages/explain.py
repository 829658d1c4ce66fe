"""Every explanation method side by side on one input, each with its trust score and
sanity check, and two models compared. Results are cached per input."""

import hashlib
import time
from dataclasses import replace

import numpy as np
import streamlit as st

from model import BlankImageError, ImageError, NoiseImageError, TooSmallError
from model.errors import EvidenceError
from model.input.preprocessing import Preprocessed
from model.input.samples import EXAMPLES, drawn_digit
from model.judge.verdict import VERDICT_WORDS
from model.number import several_digits
from model.prediction import format_probability
from model.why.attribution import METHODS, available_methods, default_method, explain
from model.why.choice import observe, why_default
from model.why.describe import describe, describe_map
from model.why.overlay import OVERLAY_OPACITY
from model.why.report import Report, judge, reports
from ui.canvas import (
    DRAW_PAD,
    drawing_from_state,
    drawing_pad,
    opens_on_drawing,
    pad_answer,
)
from ui.counterfactual import counterfactual_section
from ui.evidence import FROM_EVIDENCE, TRAINING, TRAINING_INDEX, training_example
from ui.evidence_build import missing_evidence
from ui.inputs import (
    DRAW_SOURCE,
    EXAMPLE_SOURCE,
    TEST_SOURCE,
    UPLOAD_SOURCE,
    follows_the_model,
)
from ui.resources import BUNDLED, bundled_classifier, default_data_dir, test_split
from ui.sidebar import current
from ui.widgets import (
    colour_legend,
    enlarge,
    heatmap_views,
    inline_image,
    map_caption,
    prediction_header,
)

choice = current()
clf = choice.clf
st.title("Explain")

SOURCES = [EXAMPLE_SOURCE, DRAW_SOURCE, UPLOAD_SOURCE, TEST_SOURCE, TRAINING]
if not clf.is_digit:  # a photo model: no canvas and no MNIST test set
    SOURCES = [UPLOAD_SOURCE, EXAMPLE_SOURCE]
elif not clf.reads_digits:  # fashion-cnn: its own images first (a drawn digit is none)
    SOURCES = [TEST_SOURCE, UPLOAD_SOURCE, DRAW_SOURCE, EXAMPLE_SOURCE, TRAINING]
if st.session_state.get("explain_source") not in SOURCES:
    st.session_state.pop("explain_source", None)
follows_the_model("explain_source", clf.reads_digits, clf.name, SOURCES[0])
from_gallery = st.session_state.pop("_from_gallery", False)  # the Model page's gallery
from_evidence = st.session_state.pop(FROM_EVIDENCE, False)  # a look-alike or an atlas point
if from_gallery:
    st.session_state["explain_source"] = TEST_SOURCE
elif from_evidence:
    st.session_state["explain_source"] = TRAINING
elif DRAW_SOURCE in SOURCES and opens_on_drawing("explain_source"):  # drawn before coming here
    st.session_state["explain_source"] = DRAW_SOURCE
source = st.radio("Input", SOURCES, horizontal=True, key="explain_source", persist_state="session")

#: This page's drawing pad: it keeps the Draw page's drawing (`DRAW_PAD`) for both pages.
PAD = "explain_pad"
#: The pad's last finished drawing (PNG): explained while a mid-stroke read is answered.
LAST_DRAWN = "_explain_drawn"


def drawn_input() -> Preprocessed:
    """Show the pad; return the stages of its last finished drawing.

    Raises ImageError when the drawing cannot be read, and BlankImageError("nothing drawn
    yet") before the first stroke or after Clear. The pad gets the server's reading of
    what it sent ({seq, label, probs, verdict, reason, ms}): its live answer when the
    model runs on the server, the round trip it measures in either mode.
    """
    try:
        drawing = drawing_from_state(st.session_state.get(PAD) or {})
    except ImageError:  # not a PNG, or too large: the page says so under the pad
        drawing_pad(PAD, clf, kept_as=DRAW_PAD)
        raise
    server, stages, error = None, None, None
    if drawing is not None:
        server = pad_answer(drawing.seq)
        if drawing.png is not None:
            t0 = time.perf_counter()
            pred = None
            try:
                stages = clf.preprocess_stages(drawing.png)
                pred = clf.predict_input(stages.x)
            except ImageError as exc:
                error = exc
            server = pad_answer(drawing.seq, pred, (time.perf_counter() - t0) * 1e3)
    # The model reads in the page; drawing_pad falls back to the server without an ONNX export.
    drawing_pad(PAD, clf, mode="browser", server=server, kept_as=DRAW_PAD)
    if drawing is None or drawing.final:  # a stroke ended (or Undo, Clear): explain it
        st.session_state[LAST_DRAWN] = drawing.png if drawing else None
        if error is not None:
            raise error
        if stages is None:
            raise BlankImageError("nothing drawn yet")
        return stages
    last = st.session_state.get(LAST_DRAWN)  # mid-stroke (server mode): keep the last one
    if last is None:
        raise BlankImageError("nothing drawn yet")
    return clf.preprocess_stages(last)  # mid-stroke: the last finished drawing


x = stages = uploaded = None
label_note = ""
try:
    if source == EXAMPLE_SOURCE:
        digit = st.radio(  # (a slider of four stops read as a range 0-7: a user test)
            "Example",
            EXAMPLES,
            EXAMPLES.index(7),
            key="explain_example",
            horizontal=True,
            persist_state="session",
        )
        stages = clf.preprocess_stages(drawn_digit(digit))
    elif source == DRAW_SOURCE:
        stages = drawn_input()
    elif source == UPLOAD_SOURCE:
        f = st.file_uploader(
            "An image",
            type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
            key="explain_upload",
        )
        if f is None:
            st.info("Choose an image to explain.")
            st.stop()
        uploaded = f.getvalue()
        stages = clf.preprocess_stages(uploaded)
    elif source == TRAINING:
        try:
            held = training_example(clf, 0)
        except EvidenceError as exc:  # (its words name the command that builds the index)
            missing_evidence(clf, str(exc), "explain")
            st.stop()
        index = st.number_input(
            "Training image #", 0, held[0] - 1, key=TRAINING_INDEX, persist_state="session"
        )
        _, (image, label) = training_example(clf, int(index))
        x = image.astype(np.float32) / 255.0
        noun = "digit" if clf.reads_digits else "image"
        label_note = f"training {noun} #{int(index)}, labelled {clf.class_names[label]}"
    else:
        data_dir = default_data_dir()
        split = test_split(clf.card.dataset_or_default, data_dir) if data_dir else None
        if split is None:
            st.warning(
                "The test set is not available locally: set DIGITLENS_DATA_DIR to the "
                "folder with the IDX files."
            )
            st.stop()
        index = st.number_input(
            "Test image index", 0, len(split) - 1, key="explain_test_index", persist_state="session"
        )
        x = split.images[int(index)].astype(np.float32) / 255.0
        label_note = f"true label: {clf.class_names[int(split.labels[int(index)])]}"
except (TooSmallError, NoiseImageError) as exc:  # ink, but nothing to read in it
    what = "drawing" if source == DRAW_SOURCE else "image"
    st.warning(f"That {what} cannot be explained: {exc}.")
    st.stop()
except BlankImageError as exc:
    if source == DRAW_SOURCE:
        st.info(f"Draw {'a digit' if clf.reads_digits else clf.judge.thing} to explain it.")
    else:
        st.error(f"That image cannot be used: {exc}")
    st.stop()
except ImageError as exc:
    st.error(f"That image cannot be used: {exc}")
    st.stop()

x_in = stages.x if stages is not None else x
source = stages if stages is not None else x
probs = clf.probabilities(x_in[None])[0]
pred = clf.to_prediction(probs, x_in)
# An image of several digits ("42") was answered "not a digit, closest: 2" with no word
# that it is a number: said as the other pages say it, with where to read it.
if uploaded is not None and pred.verdict != "digit" and clf.reads_digits:
    # (read once per image and model: a rerun, a slider moved, reads the whole number again)
    seen = st.session_state.setdefault("explain_several", {})
    key = (clf.name, hashlib.sha256(uploaded).hexdigest())
    if key not in seen:
        seen.clear()
        seen[key] = several_digits(clf, uploaded, pred).reason
    pred = replace(pred, reason=seen[key])
    if pred.reason and pred.reason.startswith("this looks like"):
        st.info(
            f"{pred.reason[0].upper()}{pred.reason[1:].split(':')[0]}: the Upload page "
            "(Read numbers) and the Draw page ('A number') read it digit by digit; the "
            "maps here explain it as one digit.",
            icon=":material/pin:",
        )
ranked = [int(c) for c in np.argsort(-probs) if int(c) != pred.label]
#: Contrast classes offered: every class of a digit model, the likeliest of ImageNet's 1,000.
MAX_CONTRASTS = 20
ranked = ranked[:MAX_CONTRASTS]

#: Reports kept per session (each input x method x layer x contrast is computed once).
MAX_CACHED_REPORTS = 256


#: The input's digest: the key of its reports and of its contrast menu's reading.
x_digest = hashlib.sha1(np.ascontiguousarray(x_in).tobytes()).hexdigest()


def report_key(method: str, layer: str | None, contrast: int | None) -> tuple:
    return (clf.name, str(clf.artifact.keras_path), x_digest, method, layer, contrast)


def cached_reports(
    specs: list[tuple[str, str | None]], contrast: int | None
) -> list[tuple[Report, float]]:
    """report() of each (method, layer) for this input, computed once per session:
    (report, ms its map took). The maps not cached yet are judged together, one batched
    call that shares the input-only references (ink, edges, random orders): nine maps
    scored one by one recomputed those curves nine times, most of the page's wait."""
    cache = st.session_state.setdefault("_explain_reports", {})
    missing = [s for s in dict.fromkeys(specs) if report_key(*s, contrast) not in cache]
    if missing:
        if len(cache) + len(missing) > MAX_CACHED_REPORTS:
            cache.clear()
        drafts, took = [], []
        for method, layer in missing:
            start = time.perf_counter()
            drafts += reports(clf, source, [(method, layer)], contrast=contrast, judged=False)
            took.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        judged = judge(clf, drafts)
        share = (time.perf_counter() - start) * 1e3 / len(judged)  # the trust, shared
        for spec, r, ms in zip(missing, judged, took, strict=True):
            cache[report_key(*spec, contrast)] = (r, ms + share)
    return [cache[report_key(*s, contrast)] for s in specs]


head_cols = st.columns([1, 3])
with head_cols[0]:
    prediction_header(pred, clf.class_names)
    if label_note:
        st.caption(label_note)
#: The contrast menu's key: one widget for every input, so a new stroke updates it in
#: place. Without a key its identity was its options' text, new with every stroke's
#: probabilities, and for 1-3 s the page showed two menus, the old one greyed (a user
#: test). A new input (or model) starts again from its runner-up.
WHY_NOT, WHY_NOT_INPUT = "why_not", "_why_not_input"
this_input = (clf.name, x_digest)
if st.session_state.get(WHY_NOT_INPUT) != this_input or (
    st.session_state.get(WHY_NOT) not in (None, *ranked)
):
    st.session_state[WHY_NOT_INPUT] = this_input
    st.session_state[WHY_NOT] = ranked[0] if ranked else None  # "why 9 and not 4?"
with head_cols[1]:
    contrast = st.selectbox(
        "Why not …",
        [None, *ranked],
        key=WHY_NOT,
        format_func=lambda c: (
            f"no contrast: all evidence for {pred.class_name}"
            if c is None
            else f"why {pred.class_name} and not {clf.class_names[c]}? "
            f"({format_probability(float(probs[c]))})"
        ),
        help="A contrastive map shows the evidence for the prediction against one other "
        "class (the difference of their scores); the runner-up is the natural question.",
    )
    opacity = st.slider(
        "Overlay opacity",
        0.0,
        1.0,
        OVERLAY_OPACITY,
        0.05,
        key="explain_opacity",
        persist_state="session",
    )
    st.caption(
        "**Trust**: pixels are blacked out in the order the map ranks them; a map is "
        "trusted when the answer falls faster than when the input's own ink (or its edges) "
        "is removed: 0 is as good as the input itself; below 0, worse, down to −1, where the "
        "score stops (as bad as random, or far worse than the input: the words under each "
        "map say which). Expect most maps below 0 on a clean drawing: blacking out a "
        "digit's own ink changes the answer within a few dozen pixels, so the ink is a hard "
        "map to beat (Grad-CAM's 7 × 7 map seldom does; the default is the method that beats "
        "it most often: the docs' trust page has the figures). **Sanity**: does "
        "the map change when the model's weights are randomised (it should)?"
    )

observe(clf, x_in)  # a model without a measured default chooses one on what it explains
dm, dl = default_method(clf)
if stages is not None:  # the measured default map over the user's own image, whole
    [(r, _)] = cached_reports([(dm, dl)], contrast)
    big, note = st.columns([2, 3])
    if r.explanation.empty:
        big.info(f"The default map is empty: {r.explanation.summary}. {r.explanation.why_empty}")
    else:
        with big:
            inline_image(
                heatmap_views(r.explanation, 280, opacity)[0],
                f"{map_caption(r.explanation)}, over your image (the model's default: "
                f"{why_default(clf)})",
                280,
                alt=describe(r, clf.class_names),
            )
    sanity = (
        "" if r.explanation.empty else f"  \n**{r.sanity_text[0].upper()}{r.sanity_text[1:]}.**"
    )
    note.markdown(f"**Trust:** {r.trust.sentence}{sanity}")
methods = available_methods(clf)
PER_ROW = 3
#: Each method's map on the model input: 10 screen pixels per input pixel, every one the
#: same size (200 pixels stretched to a 330-pixel column made them 11 and 12 wide by turns).
GRID_MAP_PX = 280
grid = [(m, choice.layer if METHODS[m].needs_conv else None) for m in methods]
found = dict(zip(grid, cached_reports(grid, contrast), strict=True))
for start in range(0, len(grid), PER_ROW):
    row = grid[start : start + PER_ROW]
    for col, (method, layer) in zip(st.columns(PER_ROW), row, strict=False):
        r, ms = found[method, layer]
        e, tr = r.explanation, r.trust
        with col:
            is_default = method == dm and (layer or None) == dl
            st.markdown(f"**{METHODS[method].title}**" + (" · default" if is_default else ""))
            if e.empty:
                st.info(f"The map is empty: {e.summary}. {e.why_empty}")
            else:
                inline_image(
                    heatmap_views(e, GRID_MAP_PX, opacity)[1],
                    map_caption(e),
                    GRID_MAP_PX,
                    alt=describe(r, clf.class_names),
                )
            # (an empty map has no trust to score: "-1.00", the worst, beside "nothing to
            # check" and a sanity "pass" read as a contradiction, a user test)
            st.metric("trust", "none" if e.empty else f"{tr.score:+.2f}", help=tr.sentence)
            st.caption(tr.verdict if e.empty else f"{tr.verdict}; {r.sanity_text}")
            st.caption(
                f"{METHODS[method].description} Cost: {METHODS[method].cost}; "
                f"{ms:.0f} ms here, with its share of the trust."
            )
colour_legend()

if not clf.is_digit:
    st.stop()  # the comparison feeds one 28x28 input to two digit models
counterfactual_section(clf, source, x_in, pred.label)
st.divider()
st.subheader("Compare two models")
others = [n for n in BUNDLED if n != clf.name] or list(BUNDLED)
other_name = st.selectbox("Compare with", others, key="compare_with", persist_state="session")
other = bundled_classifier(other_name)
st.caption(
    "Both models get the same 28x28 input; each map is on the same 0-1 colour scale. "
    "Each model shows its own measured default map unless the chosen method fits both."
)
pair = st.columns(2)
for col, model in zip(pair, (clf, other), strict=True):
    if choice.method in available_methods(model):
        method = choice.method
        layer = (
            (choice.layer if choice.layer in model.conv_layers else None)
            if METHODS[method].needs_conv
            else None
        )
    else:
        method, layer = default_method(model)
    e = explain(model, x_in, method=method, layer=layer)
    p = model.to_prediction(e.probabilities, e.x)
    with col:
        # With its verdict: fashion-cnn "read" a drawn 7 as a Sandal (99.8 %) with no word
        # that it does not know digits.
        verdict = VERDICT_WORDS[model.reads_digits][p.verdict]
        st.markdown(
            f"**{model.name}** reads **{p.class_name}** ({format_probability(p.probability)}"
            f", {verdict}) · {METHODS[method].title}" + (f" on {e.layer}" if e.layer else ""),
            help=p.reason,
        )
        if e.empty:
            st.info(f"The map is empty: {e.summary}. {e.why_empty}")
        else:
            inline_image(
                heatmap_views(e, 260, opacity)[1],
                f"{METHODS[method].title} of {model.name}, on the input both read",
                260,
                alt=describe_map(e, model.class_names),
            )
if stages is not None:
    inline_image(
        enlarge(stages.x, 112), "the shared input", 112, alt="the 28x28 input both models read"
    )
