"""A written number on screen: the Draw page's number mode and the Upload page's numbers.

Widgets and rendering only: the reading is `Classifier.read_number`, each digit's map and
trust `model.number.explain_digits` (the one report every front end uses).
"""

from __future__ import annotations

import html
import time

import streamlit as st

from model import BlankImageError, Classifier, ImageError
from model.number import NumberReading, digit_stages, explain_digits, ordinal
from model.why.attribution import METHODS
from model.why.describe import describe_map
from model.why.report import Report
from ui.canvas import NUMBER_PAD_SIZE, drawing_from_state, drawing_pad, number_answer
from ui.counterfactual import counterfactual_section
from ui.widgets import colour_legend, inline_image, prediction_header

#: The number pad's key in session state (apart from the digit pad: each keeps its drawing).
NUMBER_PAD = "number_pad"
#: The Draw page's switch between one digit and a number.
WHAT = {"digit": "A digit", "number": "A number"}
#: Digits shown side by side; a longer number wraps onto further rows.
PER_ROW = 4  # (6 squeezed "> 99.9 % sure" onto four lines at 1280 px)
#: Side of each digit's map, in pixels.
MAP_SIDE = 150


def fitted_width(shape: tuple[int, ...], side: int) -> int:
    """The width that fits an image of `shape` (h, w, ...) in a `side` square: a tall digit
    (a 1) as tall as the others, not `side` wide and twice as tall (its map sat lower than
    its neighbours', its caption far below theirs)."""
    h, w = shape[:2]
    return max(1, round(side * min(1.0, w / h))) if h and w else side


def what_to_draw() -> str:
    """The switch above the pad: "digit" or "number"."""
    what = st.segmented_control(
        "Write",
        list(WHAT),
        format_func=WHAT.get,
        default="digit",
        key="draw_what",
        persist_state="session",
        help="One digit, or a number of several digits read one by one, each with its "
        "answer and its map.",
    )
    return what or "digit"


def number_mode(clf: Classifier, method: str | None, layer: str | None) -> None:
    """The wide pad; under it the number, then each digit's answer and map."""
    error, reading, server = None, None, None
    try:
        drawing = drawing_from_state(st.session_state.get(NUMBER_PAD) or {})
    except ImageError as exc:
        drawing, error = None, str(exc)
    if drawing is not None and drawing.png is not None:
        t0 = time.perf_counter()
        try:
            reading = clf.read_number(drawing.png)
        except BlankImageError:
            pass
        except ImageError as exc:
            error = str(exc)
        server = number_answer(drawing.seq, reading, (time.perf_counter() - t0) * 1e3)
    elif drawing is not None:
        server = number_answer(drawing.seq)
    drawing_pad(NUMBER_PAD, clf, mode="number", server=server, size=NUMBER_PAD_SIZE)
    if error is not None:
        st.error(f"That drawing could not be read: {error}")
    elif reading is None:
        st.info(
            "Write a number on the wide pad, digits side by side: each digit is read on its "
            "own as soon as you lift the pen.",
            icon=":material/draw:",
        )
    else:
        show_reading(clf, reading, method, layer)
        edit_a_digit(clf, reading)


def edit_a_digit(clf: Classifier, reading: NumberReading) -> None:
    """ "Make the 4 a 9": one digit chosen, then the counterfactual section on its own
    input (`model.number.digit_stages`), the other digits untouched."""
    # (a mark judged not a digit is not offered: "second (4)" read as if it were a 4)
    readable = [
        i
        for i, d in enumerate(reading.digits)
        if d.prediction is not None and d.prediction.verdict != "not_a_digit"
    ]
    if not readable:
        return

    def name(i: int) -> str:
        p = reading.digits[i].prediction
        return f"{ordinal(i)} ({p.class_name})"

    i = st.segmented_control(
        "Change one digit",
        readable,
        format_func=name,
        default=readable[0],
        key="number_cf_digit",
        help="What would make this digit another? The smallest edit of that digit alone.",
    )
    if i is None or i not in readable:
        return
    stages = digit_stages(clf, reading, i)
    label = reading.digits[i].prediction.label
    subject = f"the {clf.class_names[label]}"
    counterfactual_section(clf, stages, stages.x, label, page="number", subject=subject)


def _title(r: Report) -> str:
    e = r.explanation
    return METHODS[e.method].title + (f" on {e.layer}" if e.layer else "")


def show_reading(
    clf: Classifier,
    reading: NumberReading,
    method: str | None,
    layer: str | None,
    key: str = "dl-digit",
) -> None:
    """The number (or why there is none), then each digit: its answer and its map with
    the map's trust, left to right. key: each digit's container is `key-I` (unique per
    number shown: the Upload page shows several)."""
    if reading.text is not None:
        unsure = " · a digit followed by ? is unsure" if reading.verdict == "unsure" else ""
        st.markdown(
            f"<div class='dl-answer dl-number'><span class='dl-number-text' "
            "style='font-size:3.6rem; font-weight:700; line-height:1; letter-spacing:0.08em'>"
            f"{html.escape(reading.text)}</span><span class='dl-prob'>"
            f"{len(reading.digits)} digit{'s' if len(reading.digits) != 1 else ''}{unsure}"
            "</span></div>",
            unsafe_allow_html=True,
        )
    else:
        st.warning(f"No number: {reading.refusal}.", icon=":material/help:")
    maps = explain_digits(clf, reading, method, layer)
    for start in range(0, len(reading.digits), PER_ROW):
        row = list(enumerate(zip(reading.digits, maps, strict=True)))[start : start + PER_ROW]
        for col, (i, (d, r)) in zip(st.columns(PER_ROW, gap="small"), row, strict=False):
            with col, st.container(key=f"{key}-{i}"):
                cut = " (cut from touching ink)" if d.touching else ""
                st.caption(f"{ordinal(i)} digit{cut}")
                if d.prediction is None or r is None:
                    st.error(f"Not read: {d.error}")
                    continue
                prediction_header(d.prediction, clf.class_names)
                e = r.explanation
                inline_image(
                    r.overlay,
                    _title(r),
                    fitted_width(r.overlay.shape, MAP_SIDE),
                    fmt="JPEG",
                    alt=describe_map(e, clf.class_names),
                )
                if r.trust is not None:
                    st.caption(f"Trust: {r.trust.sentence}")
    colour_legend()
