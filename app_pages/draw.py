"""Draw a digit: the answer moves with the pen (in the browser), the server explains each stroke."""

from __future__ import annotations

import time

import streamlit as st

from model import BlankImageError, Classifier, ImageError
from model.input.preprocessing import Preprocessed
from model.number import READ_AS_NUMBER, several_digits
from model.why.attribution import METHODS, Explanation
from model.why.describe import describe_map
from model.why.report import Report, judge, reports
from ui.canvas import (
    CANVAS_SIZE,
    DRAW_PAD,
    DRAWN,
    Drawing,
    drawing_from_state,
    drawing_pad,
    live_reading,
    pad_answer,
)
from ui.counterfactual import counterfactual_section, forget_target
from ui.number import number_mode, what_to_draw
from ui.resources import note_activity
from ui.sidebar import Choice, current
from ui.widgets import colour_legend, heatmap_views, inline_image, inspector, prediction_header

#: The live-answer switch: where the prediction runs while the pen moves.
WHERE = {"browser": "In the browser", "server": "On the server"}
#: Grad-CAM always reads the last convolution (it joins both branches of the CNN).
GRADCAM = "gradcam"

choice = current()
clf = choice.clf

#: What the header asked for at this run ("number" in number mode: it said "Draw a digit").
HEADING = "draw_heading"
st.session_state[HEADING] = st.session_state.get("draw_what") if clf.reads_digits else None
if st.session_state[HEADING] == "number":
    st.header("Draw a number")
else:
    st.header("Draw a digit" if clf.reads_digits or not clf.is_digit else f"Draw {clf.judge.thing}")
if not clf.is_digit:
    h, w, _ = clf.input_shape
    st.info(
        f"Drawing is for the 28x28 digit models; {clf.name} reads {h}x{w} photos. "
        "Use the Upload page (or its camera) or the Explain page for it.",
        icon=":material/photo_camera:",
    )
    st.stop()


def maps_for(clf: Classifier, stages: Preprocessed, choice: Choice) -> tuple[Report | None, Report]:
    """(Grad-CAM on the last convolution, or None without convolutions; the sidebar's map,
    which starts at the model's measured default), as drafts: their trust comes after the
    maps are on screen (`model.why.report.judge`, one batched call for both)."""
    specs = [(GRADCAM, clf.conv_layers[-1])] if clf.conv_layers else []
    found = reports(clf, stages, [*specs, (choice.method, choice.layer)], judged=False)
    return (found[0] if specs else None), found[-1]


def show_map(r: Report):
    """One map over the user's strokes (an empty map in words); returns the placeholder
    where `show_trust` writes how far to trust it."""
    e = r.explanation
    if e.empty:
        st.info(f"{title(e)}: {e.summary}. {e.why_empty}", icon=":material/visibility_off:")
    else:
        inline_image(
            r.overlay,
            f"{title(e)}, over your strokes",
            CANVAS_SIZE,
            fmt="JPEG",
            alt=describe_map(e, clf.class_names),
        )
    return st.empty()


def show_trust(slot, r: Report) -> None:
    e = r.explanation
    if e.empty:  # (no map: "sanity check: pass ... it shows the model" beside it read as
        # a contradiction, a user test; the check is of the method, not of this input)
        slot.caption(f"{e.resolution}. {r.trust.sentence}")
        return
    sanity = r.sanity_text[0].upper() + r.sanity_text[1:]
    slot.caption(f"{e.resolution}. {r.trust.sentence} {sanity}.")


def title(e: Explanation) -> str:
    return METHODS[e.method].title + (f" on {e.layer}" if e.layer else "")


def read_drawing() -> tuple[Drawing | None, str | None]:
    """(the pad's last drawing or None, a message when what arrived cannot be read)."""
    try:
        return drawing_from_state(st.session_state.get(DRAW_PAD) or {}), None
    except ImageError as exc:
        return None, str(exc)


@st.fragment
def draw_and_explain() -> None:
    """Pad, server answer and heatmaps: each stroke reruns only this fragment."""
    note_activity()
    # (a number: a wider pad, each digit's answer and map under it)
    what = what_to_draw() if clf.reads_digits else None
    if clf.reads_digits and (what == "number") != (st.session_state.get(HEADING) == "number"):
        st.rerun(scope="app")  # the switch changed what to draw: the header above says so too
    if what == "number":
        number_mode(clf, choice.method, choice.layer)
        return
    pad_col, answer_col = st.columns([34, 66], gap="medium")
    edge = live_reading(clf)[0] is not None
    with pad_col:
        # The person's choice is kept (across pages too); a model the page cannot read
        # shows "On the server" without overwriting it, for when they switch back.
        mode = st.segmented_control(
            "Live answer",
            list(WHERE),
            format_func=WHERE.get,
            default="browser" if edge else "server",
            key="live_mode" if edge else "live_mode_server_only",
            disabled=not edge,
            help="Where the model reads your drawing while the pen moves. The server "
            "always answers each finished stroke with the heatmaps.",
            persist_state="session" if edge else None,
        )
        drawing, error = read_drawing()
        if drawing is not None and drawing.final:  # (the Explain and Evidence pages open on it)
            st.session_state[DRAWN] = True if drawing.strokes else None
        if drawing is None or not drawing.strokes:  # (cleared: the next drawing is another)
            forget_target("draw")
        answer, server, pred, refused = None, None, None, None
        if drawing is not None and drawing.png is not None:
            t0 = time.perf_counter()
            try:
                stages = clf.preprocess_stages(drawing.png)
                answer = maps_for(clf, stages, choice)
            except BlankImageError as exc:  # an empty pad keeps the prompt; a mark says why
                refused = None if type(exc) is BlankImageError else str(exc)
            except ImageError as exc:
                error = str(exc)
            ms = (time.perf_counter() - t0) * 1e3
            if answer is not None:
                e = answer[1].explanation
                pred = clf.to_prediction(e.probabilities, e.x)  # the pad shows its verdict too
                if pred.verdict != "digit":  # several digits? the reason says so
                    pred = several_digits(clf, drawing.png, pred, how=READ_AS_NUMBER["draw"])
                server = pad_answer(drawing.seq, pred, ms)
        if drawing is not None and server is None:
            server = pad_answer(drawing.seq)
        drawing_pad(DRAW_PAD, clf, mode=mode or "browser", server=server)
        if not clf.reads_digits:  # a model of other things (fashion-cnn): what a drawing is
            # to it; under the pad: above it, it pushed Undo and Clear off a phone's screen
            st.caption(
                f"{clf.name} learnt from small pictures, not from drawings: a drawn outline, "
                f"even of one of its classes, is often not {clf.judge.thing} to it. The "
                "Upload page reads its own kind of image."
            )

    # (keyed: after Clear its old answer, stale until the rerun ends, is hidden at once,
    # `ui/web/draw.js` doClear; it showed for 0.4-1 s, a user test)
    with answer_col, st.container(key="dl-draw-answer"):
        if error is not None:
            st.error(f"That drawing could not be read: {error}")
            return
        if refused is not None:  # a dot, a tick, a scribbled pad: the pad's words, here too
            st.warning(f"Not read: {refused}", icon=":material/block:")
            return
        if answer is None or pred is None:
            st.info(
                f"Draw {'a digit' if clf.reads_digits else clf.judge.thing} on the black "
                "square: the answer follows your pen, and the heatmaps appear as soon as "
                "you lift it.",
                icon=":material/draw:",
            )
            return
        cam, best_report = answer
        best = best_report.explanation
        st.caption(f"{clf.name} on the server reads · {server['ms']:.0f} ms")
        prediction_header(pred, clf.class_names)
        same = cam is not None and (cam.explanation.method, cam.explanation.layer) == (
            best.method,
            best.layer,
        )
        maps = [best_report] if cam is None else [cam] if same else [cam, best_report]
        cols = st.columns(len(maps), gap="small")
        slots = []
        for col, r in zip(cols, maps, strict=True):
            with col:
                slots.append(show_map(r))
        # The maps are on screen now; their trust (one batched deletion call) follows.
        for slot, r in zip(slots, judge(clf, maps), strict=True):
            show_trust(slot, r)
        colour_legend()
        if cam is None:
            st.caption(f"{clf.name} has no convolutions, so no Grad-CAM map.")
        question = (
            f"**Why {pred.class_name}?**"
            if pred.verdict == "digit"
            else f"**What pushed it towards {pred.class_name}?** ("
            + (
                "it is not sure this is"
                if pred.verdict == "unsure"
                else "it does not take this for"
            )
            + f" {clf.judge.thing})"
        )
        st.markdown(
            f"{question} Warm colours mark where the evidence for *{pred.class_name}* lies. "
            f"{METHODS[best.method].description} Change the method in the sidebar; compare "
            "them all on the Explain page."
        )
        if best.stages is not None:
            counterfactual_section(clf, best.stages, best.stages.x, pred.label, page="draw")
        with st.expander("Preprocessing inspector: from your canvas to the model input"):
            _, small = heatmap_views(best, CANVAS_SIZE)
            inline_image(
                small,
                "the 28x28 model input, same map",
                150,
                alt=describe_map(best, clf.class_names),
            )
            if best.stages is not None:
                inspector(best.stages, size=96)


draw_and_explain()
