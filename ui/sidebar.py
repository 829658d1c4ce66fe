"""The sidebar every page shares: which model, which explanation."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from model import Classifier, ModelLoadError
from model.classifier import DIGIT_RECIPES
from model.errors import WeightsUnavailableError
from model.input.photo import SCALINGS
from model.runtime.applications import NAMED
from model.why.attribution import METHODS, available_methods, default_cam_layer, default_method
from model.why.choice import why_default
from ui.resources import (
    BUNDLED,
    DEFAULT_MODEL,
    DEFAULT_RUNTIME,
    application_classifier,
    bundled_classifier,
    classifier_from_upload,
    keep_keras_state,
)

OWN_MODEL = "Your own .keras file"
#: The Keras Applications models the picker lists (ImageNet, 1,000 classes).
KERAS_APPS = tuple(NAMED)
#: The own model's input scaling: the card's, else the file's own (a 28x28 grey model the
#: digit recipe, a first Rescaling of 0..255 levels 0-255, else 0-1), or a choice.
CARD_SCALING = "automatic: its card's, else from its shape and first layer"
SCALING_CHOICES = (CARD_SCALING, *SCALINGS, *DIGIT_RECIPES)
#: Runtimes offered for bundled models (`auto` is the float ONNX export).
APP_RUNTIMES = (DEFAULT_RUNTIME, "onnx-int8", "onnx-fp16")


@dataclass(frozen=True)
class Choice:
    clf: Classifier
    method: str
    layer: str | None


def card_line(clf: Classifier) -> str:
    """The model's card in one line."""
    card = clf.card
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "imagenet": "ImageNet"}.get(
        card.dataset or ""
    )
    parts = [dataset or "unknown data set"]
    if card.accuracy is not None:
        parts.append(f"test accuracy {card.accuracy:.2%}")
    if card.parameters is not None:
        parts.append(f"{card.parameters:,} parameters")
    if not clf.is_digit:
        h, w, c = clf.input_shape
        parts.append(f"{h}x{w}x{c} input, {clf.preprocessing} scaling")
    if clf.input_note:
        parts.append(clf.input_note)
    if clf.judge.lent_note:  # (a user's digit model: "not a digit" is the bundled detector's)
        parts.append(clf.judge.lent_note)
    single = clf.single_runtime
    parts.append(  # (it named two runtimes in one breath: which one runs? a user test)
        f"runs on {clf.runtime.name}"
        if single == clf.runtime.name
        else f"reads a drawing on {single} (measured faster here), a batch on {clf.runtime.name}"
    )
    return " · ".join(parts)


#: The address's `?model=NAME` (a bundled or a Keras Applications model): a link that
#: opens the app on that model, as a teacher shares it; kept in step with the picker.
MODEL_QUERY = "model"


def model_picker() -> Classifier:
    options = [*BUNDLED, *KERAS_APPS, OWN_MODEL]
    linked = st.query_params.get(MODEL_QUERY)
    if "model_name" not in st.session_state and linked in options[:-1]:
        st.session_state["model_name"] = linked  # (a session's first run: the link's model)
    name = st.sidebar.selectbox(
        "Model",
        options,
        key="model_name",
        format_func=lambda n: f"{n} (ImageNet)" if n in KERAS_APPS else n,
        help="The digit models ship with DigitLens; the ImageNet models are Keras "
        "Applications (weights from your Keras cache); or use your own.",
    )
    if name in (OWN_MODEL, DEFAULT_MODEL):
        st.query_params.pop(MODEL_QUERY, None)
    else:
        st.query_params[MODEL_QUERY] = name  # (the address names it: a link to share)
    if name in KERAS_APPS:
        try:
            return application_classifier(name)
        except WeightsUnavailableError as exc:  # (its own words are for the command line)
            st.sidebar.error(
                f"The ImageNet weights of {exc.model} are not on this computer, and they "
                f"could not be downloaded. Put the file at `{exc.where}` (or name it with "
                f"`{exc.env}`), then reload the page."
            )
        except ModelLoadError as exc:
            st.sidebar.error(str(exc))
        st.sidebar.info("Until then, mnist-cnn answers.")
        return bundled_classifier(DEFAULT_MODEL, DEFAULT_RUNTIME)
    if name == OWN_MODEL:
        upload = st.sidebar.file_uploader(
            "A .keras file (loaded in safe mode)", type=["keras"], key="own_model"
        )
        scaling = st.sidebar.selectbox(
            "Its input scaling",
            SCALING_CHOICES,
            key="own_scaling",
            help="How your model was trained to see pixels: 0-1 (RGB / 255), 0-255, -1-1, "
            "caffe (BGR minus the ImageNet mean), torch (ImageNet mean/std), or the MNIST "
            "digit recipe for 28x28 grey models. Automatic: the scaling its card states; "
            "else the digit recipe for a 28x28 grey model, 0-255 for a model whose first "
            "layer is a Rescaling of 0..255 levels, 0-1 for any other.",
        )
        if upload is not None:
            try:
                chosen = None if scaling == CARD_SCALING else scaling
                clf = classifier_from_upload(upload.getvalue(), upload.name, chosen)
                st.sidebar.success(f"Loaded {upload.name}")
                return clf
            except ModelLoadError as exc:
                st.sidebar.error(f"This file cannot be used: {exc}")
        st.sidebar.info("Until then, mnist-cnn answers.")
        return bundled_classifier(DEFAULT_MODEL, DEFAULT_RUNTIME)
    runtime = st.sidebar.selectbox(
        "Runtime",
        APP_RUNTIMES,
        key="runtime",
        help="int8/fp16: the quantized copies of the model (smaller files, same answers "
        "on >= 99% of test images); see the README's table.",
    )
    return bundled_classifier(name, runtime)


#: Session key of the default the picker last put in place: while the person has not
#: picked another method, a default measured later on the model's inputs replaces it.
OFFERED_DEFAULT = "_offered_default"


def explanation_picker(clf: Classifier) -> tuple[str, str | None]:
    methods = available_methods(clf)
    default = default_method(clf)[0]
    offered = st.session_state.get(OFFERED_DEFAULT)
    current = st.session_state.get("method")
    if current not in methods or (current == offered and current != default):
        st.session_state["method"] = default
    st.session_state[OFFERED_DEFAULT] = default
    method = st.sidebar.selectbox(
        "Explanation", methods, key="method", format_func=lambda m: METHODS[m].title
    )
    if not clf.card.default_explanation:  # say why the default is the one it is
        st.sidebar.caption(f"Default: {METHODS[default].title}, {why_default(clf)}.")
    if not clf.conv_layers:
        st.sidebar.caption(f"{clf.name} has no convolutions: gradient methods only.")
    layer = None
    if METHODS[method].needs_conv:
        if st.session_state.get("layer") not in clf.conv_layers:
            st.session_state["layer"] = default_cam_layer(clf)
        layer = st.sidebar.selectbox(
            "Layer",
            clf.conv_layers,
            key="layer",
            help="conv3 joins both branches; conv1 sees strokes."
            if clf.is_digitlens
            else "Every layer with a spatial map; the default is the last one bigger than 1x1.",
        )
    return method, layer


def sidebar() -> Choice:
    """Draw the sidebar; return the chosen classifier, method and layer."""
    clf = model_picker()
    st.sidebar.caption(card_line(clf))
    method, layer = explanation_picker(clf)
    return Choice(clf, method, layer)


def current() -> Choice:
    """The sidebar's choice for this run.

    app.py draws the sidebar before the page runs and leaves its choice here; a
    page run on its own (`streamlit run app_pages/draw.py`) draws it itself.
    """
    keep_keras_state()  # also when a page runs on its own, without app.py
    choice = st.session_state.pop("_choice", None)
    return choice if choice is not None else sidebar()
