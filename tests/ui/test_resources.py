"""The one private Streamlit hook DigitLens replaces, and that it really is replaced."""

from __future__ import annotations

import sys
import threading
import time
import types

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from ui import resources


def test_this_streamlit_was_checked():
    """A new Streamlit must be read again before the hook is trusted (then add it)."""
    version = ".".join(st.__version__.split(".")[:2])
    assert version in resources.KERAS_RESET_CHECKED, (
        f"Streamlit {st.__version__}: check that script_runner._clean_problem_modules still "
        "resets Keras after each run, then add the version to KERAS_RESET_CHECKED"
    )
    assert callable(getattr(script_runner, "_clean_problem_modules", None))


def _streamlit_hook():
    """Streamlit's own run-end hook, even where an earlier test already replaced it."""
    hook = script_runner._clean_problem_modules
    return getattr(hook, "replaced", hook)


def test_the_run_end_hook_no_longer_resets_keras(monkeypatch):
    cleared = []
    fake_keras = types.SimpleNamespace(
        backend=types.SimpleNamespace(clear_session=lambda: cleared.append(1))
    )
    monkeypatch.setitem(sys.modules, "keras", fake_keras)
    original = _streamlit_hook()
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)

    original()  # what Streamlit does today: proves the fake is reached
    assert cleared == [1]

    assert resources.keep_keras_state() is True
    assert resources.keep_keras_state() is True  # idempotent
    script_runner._clean_problem_modules()
    assert cleared == [1], "Keras was reset at the end of a run"


def test_an_unchecked_streamlit_is_left_alone_with_a_warning(monkeypatch):
    original = _streamlit_hook()
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)
    monkeypatch.setattr(resources, "KERAS_RESET_CHECKED", ("0.1",))
    import pytest

    with pytest.warns(UserWarning, match="not one DigitLens has checked"):
        assert resources.keep_keras_state() is False
    assert script_runner._clean_problem_modules is original


def test_warm_start_fills_the_cache_the_pages_read_and_warms_it_once():
    """`python -m digitlens app` calls warm_start as the server starts: the model the app
    opens on is then in the cache (the same object a page gets) with TensorFlow imported
    and its maps traced, before any page is open (issue #21, item 4)."""
    from model.runtime.backend import tensorflow_loaded

    name = "mnist-mlp"  # not the app's default, so no other test has warmed it yet
    resources.bundled_classifier.clear()
    resources.warm_start(name, resources.DEFAULT_RUNTIME).join(timeout=600)
    clf = resources.bundled_classifier(name, resources.DEFAULT_RUNTIME)
    assert tensorflow_loaded()
    warming = resources.start_warm_up(clf)
    assert not warming.is_alive()  # warm_start's thread ended with the warm-up
    assert resources.start_warm_up(clf) is warming  # warmed once, not on every page
    assert resources.bundled_classifier(name, resources.DEFAULT_RUNTIME) is clf
    # Then the counterfactual searches, in a thread of their own that no page waits for:
    # the first "what would make it a 1?" took ~2 s more after the maps' warm-up.
    from model.why.latent_search import search_for
    from model.why.prior import prior_for

    for t in threading.enumerate():
        if t.name == resources.EDITS_WARM_UP_THREAD:
            t.join(timeout=600)
    assert search_for(clf.net, prior_for(clf)).latent.experimental_get_tracing_count() == 1


def test_the_sidebar_opens_on_the_model_warm_start_loads():
    from ui import sidebar

    assert sidebar.APP_RUNTIMES[0] == resources.DEFAULT_RUNTIME
    assert resources.BUNDLED[0] == resources.DEFAULT_MODEL


def test_a_page_gets_its_model_only_once_its_maps_are_traced():
    """The first page waits for the warm-up, so the pad it shows never takes a stroke whose
    maps still wait for TensorFlow (issue #21, item 4: first map <= 1 s after the stroke)."""
    from model.runtime.backend import tensorflow_loaded

    name = "mnist-mlp"
    resources.bundled_classifier.clear()
    clf = resources.bundled_classifier(name, resources.DEFAULT_RUNTIME)
    assert tensorflow_loaded()
    assert not resources.start_warm_up(clf).is_alive()


def test_the_edits_warm_up_waits_for_the_pages_to_be_quiet(monkeypatch):
    """Its traces hold the GIL, and strokes drawn while it ran got their maps ~100 ms
    later: it starts only once no page has run for QUIET_S."""
    started = []
    monkeypatch.setattr(resources, "QUIET_S", 0.4)
    monkeypatch.setattr(
        resources.counterfactual, "warm_up", lambda clf: started.append(time.monotonic())
    )
    resources.note_activity()
    warming = threading.Thread(target=resources._warm_edits, args=(None,))
    warming.start()
    for _ in range(6):  # a page runs every 0.2 s for 1.2 s: never quiet for 0.4 s
        time.sleep(0.2)
        resources.note_activity()
        assert not started
    last = time.monotonic()
    warming.join(timeout=10)
    assert len(started) == 1 and started[0] - last >= 0.4 - 0.05
