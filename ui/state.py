"""Page widgets that keep their values while the person visits other pages.

Streamlit forgets a widget's value at the end of a run in which its page was not shown,
so the Explain page came back on its first input, the Draw page on its first mode. The
app writes each kept widget's value back to session state on every run of every page
(`keep_page_widgets`, from app.py), which Streamlit then keeps; a kept widget gets its
first value from session state (`first_value`) rather than a default argument, so the two
never disagree. A kept choice the page no longer offers (another model's) falls back
as Streamlit resets it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: Keys of the page widgets that keep their values across pages. File uploaders cannot
#: be given a value (the browser holds the files), nor can buttons.
KEPT_WIDGETS = (
    "draw_what",
    "live_mode",
    "upload_log_scale",
    "upload_numbers",
    "camera_on",
    "explain_source",
    "explain_example",
    "explain_test_index",
    "explain_opacity",
    "compare_with",
    "evidence_source",
    "evidence_example",
    "evidence_test_index",
    "evidence_k",
)


def keep_page_widgets() -> None:
    """Carry every kept widget's value over this run, whichever page it shows."""
    for key in KEPT_WIDGETS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def first_value(key: str, value: Any) -> None:
    """A kept widget's first value (create the widget with `key` and no default)."""
    st.session_state.setdefault(key, value)
