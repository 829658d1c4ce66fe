"""Everything heavy loads once per process here (`st.cache_resource`), never on a rerun.

A `Classifier` is thread-safe for prediction, so one instance serves every session.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np
import streamlit as st

from model import Classifier, load_classifier
from model.runtime.artifacts import BUNDLED
from model.why import counterfactual
from model.why.report import warm_up

#: Streamlit versions whose script runner was read and found to call
#: `keras.backend.clear_session()` after every run from `_clean_problem_modules`.
#: A new Streamlit must be checked again (tests/ui/test_resources.py fails until it is).
KERAS_RESET_CHECKED = ("1.67",)


def keep_keras_state() -> bool:
    """Stop Streamlit from resetting Keras after every script run; True when it is stopped.

    Streamlit calls `keras.backend.clear_session()` when each run ends, for apps that
    build models in the script. DigitLens builds none per run: the models are loaded
    once (below) and shared. The reset only made the next TensorFlow call rebuild its
    state on every stroke of the draw page (README, "Live drawing"). Matplotlib figures are still
    closed, as Streamlit does.

    There is no supported switch for this, so the private hook is replaced only on the
    Streamlit versions listed in `KERAS_RESET_CHECKED`; on any other version, or if the
    hook has moved, it warns once instead of guessing. Idempotent: every page calls it.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "_digitlens", False):
        return True
    version = ".".join(st.__version__.split(".")[:2])
    if version not in KERAS_RESET_CHECKED or not hasattr(script_runner, "_clean_problem_modules"):
        warnings.warn(
            f"Streamlit {st.__version__} is not one DigitLens has checked: Keras state is "
            "reset after every run, which slows each stroke (see ui/resources.py)",
            stacklevel=2,
        )
        return False

    def close_figures_only() -> None:
        # pyplot may be half imported by another thread (the warm-up's Keras import):
        # only a module that has finished loading has `close`.
        close = getattr(sys.modules.get("matplotlib.pyplot"), "close", None)
        if close is not None:
            close("all")

    close_figures_only._digitlens = True  # type: ignore[attr-defined]
    close_figures_only.replaced = script_runner._clean_problem_modules  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = close_figures_only
    return True


#: The model and runtime the app opens on (the sidebar's first choices): what `warm_start`
#: loads, with the same arguments, so that the first session finds it in the cache.
DEFAULT_MODEL, DEFAULT_RUNTIME = BUNDLED[0], "auto"

#: Each classifier -> its warm-up thread.
_warm_ups: weakref.WeakKeyDictionary[Classifier, threading.Thread] = weakref.WeakKeyDictionary()
_warm_ups_lock = threading.Lock()


def start_warm_up(clf: Classifier) -> threading.Thread:
    """Trace `clf`'s explanation passes in a background thread, started once per
    classifier; returns that thread. It imports TensorFlow (~4 s), loads the Keras net and
    runs Grad-CAM and the default map once (`model.why.report.warm_up`), so that the
    first stroke's maps do not wait for any of it. Then, in a thread of its own that
    nothing waits for, it traces the counterfactual searches (~2 s more): the first "what
    would make it a 1?" took that long after the maps' warm-up."""
    with _warm_ups_lock:
        thread = _warm_ups.get(clf)
        if thread is None:
            thread = threading.Thread(
                target=_warm_maps_then_edits, args=(clf,), name="digitlens-warm-up", daemon=True
            )
            _warm_ups[clf] = thread
            thread.start()
    return thread


def _warm_maps_then_edits(clf: Classifier) -> None:
    warm_up(clf)
    note_activity()  # (a page waiting for these runs on now, and its first strokes follow)
    # Not a daemon (a thread started by one is one, unless told): TensorFlow aborts a
    # process that exits in the middle of a trace, so an exit waits for it (seconds).
    threading.Thread(
        target=_warm_edits, args=(clf,), name=EDITS_WARM_UP_THREAD, daemon=False
    ).start()


#: The edits' warm-up starts once no page has run for this long (seconds).
QUIET_S = 3.0
_last_activity = 0.0  # time.monotonic() of the last `note_activity`


def note_activity() -> None:
    """The app is busy (a page runs, the Draw page's fragment on each stroke, or a page is
    about to show once the maps' warm-up ends): background work that can wait, waits
    (`QUIET_S`)."""
    global _last_activity
    _last_activity = time.monotonic()


#: The thread that traces the counterfactual searches after the maps' warm-up.
EDITS_WARM_UP_THREAD = "digitlens-warm-up-edits"


def _warm_edits(clf: Classifier) -> None:
    """`counterfactual.warm_up`, which only saves time: where it fails (a model of the
    user's that edits cannot take), the edit itself will say why when asked for."""
    # Its traces hold the GIL: strokes drawn while it ran had their maps in 195-287 ms,
    # against 114-175 ms (the e2e first-stroke test's second stroke, 6 runs each), so it
    # waits until the pages have been quiet for a moment.
    while time.monotonic() - _last_activity < QUIET_S:
        time.sleep(QUIET_S / 4)
    try:
        counterfactual.warm_up(clf)
    except Exception as exc:  # noqa: BLE001  (a warm-up never stops the app)
        logging.getLogger(__name__).warning(
            "the counterfactual warm-up of %s failed: %s", clf.name, exc
        )


@st.cache_resource(show_spinner="Loading the model...")
def bundled_classifier(name: str, runtime: str = "auto") -> Classifier:
    clf = load_classifier(name, runtime=runtime)
    clf.probabilities(np.zeros((1, *clf.input_shape), np.float32))  # first call traces/warms up
    # The page waits here (under "Loading the model...") until the explanations are
    # traced: a pad shown before that took a first stroke whose maps then waited for the
    # TensorFlow import (3-8 s on 2 busy cores, issue #21 item 4). Once per model and
    # process; `python -m digitlens app` starts this as the server starts (`warm_start`).
    start_warm_up(clf).join()
    return clf


def warm_start(name: str = DEFAULT_MODEL, runtime: str = DEFAULT_RUNTIME) -> threading.Thread:
    """At app server start, before any page is open: load the model the app opens on into
    the cache and warm it up, in a background thread (`python -m digitlens app` calls it).

    Streamlit runs no app code until a browser connects, so without this the warm-up
    starts with the first page and the first stroke can still wait for it.
    """

    def load() -> None:
        clf = bundled_classifier(name, runtime)  # positional, as the sidebar calls it
        start_warm_up(clf).join()

    # The cached loader's spinner finds no page to draw on in this thread, and Streamlit
    # logs a warning that it "can be ignored when running in bare mode": drop that one
    # line (for this thread only), which would otherwise open every app log.
    quiet = logging.getLogger(SCRIPT_CONTEXT_LOGGER)
    if not any(isinstance(f, _NotAboutWarmStart) for f in quiet.filters):
        quiet.addFilter(_NotAboutWarmStart())
    thread = threading.Thread(target=load, name=WARM_START_THREAD, daemon=True)
    thread.start()
    return thread


#: The thread `warm_start` loads in, and the logger that warns about threads without a page.
WARM_START_THREAD = "digitlens-warm-start"
SCRIPT_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


class _NotAboutWarmStart(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return f"'{WARM_START_THREAD}'" not in record.getMessage()


@st.cache_resource(show_spinner="Loading the Keras Applications model...", max_entries=3)
def application_classifier(name: str) -> Classifier:
    """A Keras Applications model by name (ImageNet weights from the Keras cache,
    $DIGITLENS_WEIGHTS_<NAME>, or a download). Raises ModelLoadError offline without them."""
    clf = load_classifier(name)
    clf.probabilities(np.zeros((1, *clf.input_shape), np.float32))
    return clf


@st.cache_resource(show_spinner="Loading your model...", max_entries=4)
def uploaded_classifier(
    digest: str, data: bytes, filename: str, preprocessing: str | None = None
) -> Classifier:
    """A user's own .keras file (safe mode), cached by content hash and scaling."""
    folder = Path(tempfile.gettempdir()) / "digitlens-uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(filename).stem + ".keras")
    path.write_bytes(data)
    return load_classifier(path, preprocessing=preprocessing)


def classifier_from_upload(
    data: bytes, filename: str, preprocessing: str | None = None
) -> Classifier:
    """preprocessing: a scaling or digit recipe instead of the card's (None: the card's)."""
    return uploaded_classifier(hashlib.sha256(data).hexdigest(), data, filename, preprocessing)


@st.cache_resource(show_spinner="Loading the test set...", max_entries=2)
def test_split(dataset: str, data_dir: str):
    """The real test set from a local folder (None when it is not there)."""
    from model.datasets import DatasetError, load_split, locate

    try:
        return load_split(locate(dataset, data_dir), "test")
    except DatasetError:
        return None


def default_data_dir() -> str | None:
    """The local data folder named by $DIGITLENS_DATA_DIR, or None (no gallery then)."""
    return os.environ.get("DIGITLENS_DATA_DIR") or None


__all__ = [
    "BUNDLED",
    "application_classifier",
    "bundled_classifier",
    "classifier_from_upload",
    "default_data_dir",
    "start_warm_up",
    "test_split",
    "warm_start",
]
