"""The "Make it a …" section: a counterfactual beside its adversarial twin.

Widgets and rendering only: the edits come from `model.why.counterfactual`, computed once
per (model, input, target) in this session.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from model.classifier import Classifier
from model.errors import CounterfactualError, NoPriorError
from model.input.preprocessing import Preprocessed
from model.judge.verdict import VERDICT_WORDS
from model.prediction import Prediction, format_probability
from model.why.counterfactual import Counterfactual, adversarial, counterfactual
from model.why.edit_pictures import (
    ADDED_RGB,
    REMOVED_RGB,
    change_picture,
    digit_picture,
    edit_on_original,
    edit_picture,
)
from ui.widgets import class_chart, inline_image

#: Edits kept per session (each model x input x target is searched once).
MAX_CACHED_EDITS = 128


def article(name: str) -> str:
    """ "a" or "an" before a class name ("an Ankle boot", "an 8", "a 7")."""
    return "an" if name[:1].lower() in "aeiou8" or name in ("11", "18") else "a"


#: Buttons a row for classes named in words (a digit model: one row of nine).
ROW_OF_NAMES = 3
#: The side of the pictures, in screen pixels.
SIDE = 196


def _model_of(clf: Classifier) -> tuple[str, str]:
    return clf.name, str(clf.artifact.keras_path)


def _cached(clf: Classifier, source: Preprocessed | np.ndarray, x: np.ndarray, target: int):
    """(counterfactual or the NoPriorError's message, adversarial twin), once per session."""
    cache = st.session_state.setdefault("_counterfactuals", {})
    key = (*_model_of(clf), hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(), target)
    if key not in cache:
        if len(cache) >= MAX_CACHED_EDITS:
            cache.clear()
        try:
            cf: Counterfactual | str = counterfactual(clf, source, target)
        except NoPriorError as exc:
            cf = str(exc)
        cache[key] = (cf, adversarial(clf, source, target))
    return cache[key]


def _target_key(page: str) -> str:
    return f"_cf_target_{page}"


def chosen_target(clf: Classifier, page: str) -> int | None:
    """The class chosen on `page` for this model, or None: a choice made for another model
    is none (its classes are others: a 7 made "a 1" on mnist-cnn was shown, unasked, as
    "Your drawing as a Trouser" on fashion-cnn, a user test)."""
    chosen = st.session_state.get(_target_key(page))
    if not isinstance(chosen, tuple) or chosen[0] != _model_of(clf):
        return None
    return chosen[1] if chosen[1] < len(clf.class_names) else None


#: How the chosen target's button looks: as Streamlit draws a primary button (the theme's
#: accent; white on it is 5.6:1), hovered too (a secondary button's text turns the accent).
CHOSEN_STYLE = (
    "background:#b93c16 !important; border-color:#b93c16 !important; color:#fff !important;"
)


def chosen_key(page: str, k: int) -> str:
    """The key of the button that makes it class k on `page` ("cf_make_1" on Explain)."""
    return f"{'' if page == 'explain' else f'{page}_'}cf_make_{k}"


def forget_target(page: str) -> None:
    """Drop the class chosen on `page` (its pad was cleared: the next drawing is another)."""
    st.session_state.pop(_target_key(page), None)


def _choose(page: str, model: tuple[str, str], k: int) -> None:
    """A target button's click (before the page runs again, so that the buttons are drawn
    with it chosen): choose k, or, where k is chosen already, none."""
    key = _target_key(page)
    st.session_state[key] = None if st.session_state.get(key) == (model, k) else (model, k)


def _as_prediction(r: Counterfactual) -> Prediction:
    return Prediction(
        r.label,
        float(r.probabilities[r.label]),
        r.probabilities,
        r.class_name,
        r.verdict,
        0.0,
        r.reason,
    )


def _answer(clf: Classifier, r: Counterfactual) -> None:
    """What the model reads in the edited input, under its message: in one line where the
    message does not say it (a failed search read as another class), else the verdict's
    reason alone (the message says what it reads: "The model reads 1 (98.8 %)" came twice)."""
    if r.succeeded or r.label == r.target:
        if r.verdict != "digit" and r.reason:
            st.caption(r.reason)
        return
    words = VERDICT_WORDS[clf.reads_digits][r.verdict]  # ("not one it knows": fashion-cnn)
    verdict = "" if r.verdict == "digit" else f" · verdict: {words}"
    said = f"reads **{r.class_name}** ({format_probability(r.probabilities[r.label])}){verdict}"
    st.markdown(f"The model {said}", help=r.reason)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def counterfactual_section(
    clf: Classifier,
    source: Preprocessed | np.ndarray,
    x: np.ndarray,
    label: int,
    page: str = "explain",
    subject: str = "it",
) -> None:
    """Buttons "Make it a K" for every other class; the chosen edit beside its twin.

    page: keeps each page's chosen target (and button keys) apart. subject: what is
    edited, in words ("the 4": one digit of a number).
    """
    st.subheader(f"What would make {subject} a …?")
    kind = "handwritten digit" if clf.reads_digits else "picture of its kind"
    st.caption(
        f"The smallest edit that keeps it a {kind} (searched in a generative model of "
        "its data, where one is trained) and, beside it, its adversarial twin: the "
        "smallest noise that fools the model just as well, with no realism asked."
    )
    others = [k for k in range(len(clf.class_names)) if k != label]
    target = chosen_target(clf, page)
    # One row of nine for a digit; class names need the width of three a row (in one row
    # the Draw page cut Sandal, Shirt and Sneaker all to "a S…", and the Explain page, at
    # 1280 px, every one of them to "Make it …").
    # (keyed: on a phone, where Streamlit stacks columns one a row, the CSS of
    # `ui.widgets` wraps these, as many a row as fit: nine rows were ~900 px of scrolling)
    # (a row of columns for each row of buttons: the keyboard's order, and a screen
    # reader's, is the rows', not down each column: T-shirt/top, Dress, Sneaker, ...)
    row = st.container(key=f"dl-targets-{page}")
    per_row = len(others) if clf.reads_digits else ROW_OF_NAMES
    for i, k in enumerate(others):
        if i % per_row == 0:
            cols = row.columns(per_row)
        col = cols[i % per_row]
        # (each button ends the heading's sentence, "… a 9", and its tooltip says it
        # whole: "Make it an 8" was cut to "Make it …" in a ninth of the Explain page)
        name = clf.class_names[k]
        make = f"Make {subject} {article(name)} {name}"
        col.button(
            f"{article(name)} {name}",
            key=chosen_key(page, k),
            # (the chosen one stands out, and a second click lets it go: all nine looked
            # alike, and a choice made for an earlier drawing was not to be seen)
            help=f"{make} (chosen: click again to close it)" if k == target else make,
            on_click=_choose,
            args=(page, _model_of(clf), k),
        )
    if target is None:
        return
    # The chosen one stands out by a style of its own, not as a "primary" button: a button
    # whose type changes is made anew, and the keyboard's focus fell to the page with it
    # (a user test). (Style-only HTML takes no room on the page.)
    st.html(f"<style>.st-key-{chosen_key(page, target)} button {{{CHOSEN_STYLE}}}</style>")
    if target == label:  # (chosen for an earlier drawing: this one reads as it already)
        name = clf.class_names[target]
        st.caption(
            f"{subject.capitalize()} already reads as {article(name)} {name}: choose another."
        )
        return
    try:
        name = clf.class_names[target]
        with st.spinner(f"Searching for {article(name)} {name} …"):
            cf, adv = _cached(clf, source, x, target)
    except CounterfactualError as exc:
        st.error(str(exc))
        return
    if isinstance(cf, str):  # no prior: its note takes the edit's two columns (the middle
        left, right = st.columns([2, 1])  # one was left empty, a user test)
        mid = None
    else:
        left, mid, right = st.columns(3)
    with left:
        whose = "Your drawing" if subject == "it" else f"Your {subject.removeprefix('the ')}"
        st.markdown(f"**{whose} as {article(clf.class_names[target])} {clf.class_names[target]}**")
        if isinstance(cf, str):  # no prior: the twin beside needs none
            st.info(f"{cf} The adversarial twin needs none: it is shown beside.")
        else:
            on_yours = edit_on_original(cf)  # None for a test-set image (no original)
            picture = edit_picture(cf, SIDE) if on_yours is None else on_yours
            inline_image(picture, "your strokes, edited", SIDE)
            st.markdown(
                f"<span style='color:{_hex(ADDED_RGB)}'>■ ink added</span> · "
                f"<span style='color:{_hex(REMOVED_RGB)}'>■ ink removed</span>, over your "
                "strokes" + (" (grey, as the model sees them)" if on_yours is None else ""),
                unsafe_allow_html=True,
            )
    if mid is not None and not isinstance(cf, str):
        with mid:
            shown = "the edited digit" if cf.succeeded else "the closest attempt"
            st.markdown(f"**{shown[0].upper()}{shown[1:]}**")
            inline_image(digit_picture(cf.x, SIDE), shown, SIDE)
            (st.success if cf.succeeded else st.warning)(cf.message)
            _answer(clf, cf)
            class_chart(_as_prediction(cf), clf.class_names, height=140, narrow=True)
    with right:
        st.markdown("**Its adversarial twin**")
        change, gain = change_picture(adv, SIDE)
        gap = np.full((SIDE, 8, 3), 255, np.uint8)  # no nested columns: one picture of two
        inline_image(
            np.concatenate([digit_picture(adv.x, SIDE), gap, change], 1),
            f"the twin, and its change magnified ×{gain:.0f}",
            "100%",
        )
        # (no green box: a twin that fools the model is a warning about the model, not a
        # success of the user's; it sat in one beside an "unsure" twin, a user test)
        (st.info if adv.succeeded else st.warning)(adv.message, icon=":material/bug_report:")
        _answer(clf, adv)
        class_chart(_as_prediction(adv), clf.class_names, height=140, narrow=True)
