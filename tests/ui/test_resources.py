"""The one private Streamlit hook DigitLens replaces, and that it really is replaced."""

from __future__ import annotations

import sys
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
