"""The input a page reads, chosen by its radio: an example, the pad, an upload, a test image.

Explain and Evidence share these names and this rule; the pad itself is `ui.canvas`.
"""

from __future__ import annotations

import streamlit as st

#: The inputs' names, as the radio shows them.
EXAMPLE_SOURCE = "Example drawing"  # a digit drawn by code: a model of other things reads none
DRAW_SOURCE = "Draw"
UPLOAD_SOURCE = "Upload"
TEST_SOURCE = "Test-set image"


def follows_the_model(source_key: str, reads_digits: bool, name: str, first: str) -> None:
    """After a switch to a model that does not read digits, a page showing its digit
    example (the radio `source_key`) shows that model's `first` input instead: the MNIST
    7 stayed, which fashion-cnn calls no item it knows (a user test)."""
    seen = f"_{source_key}_model"
    before, st.session_state[seen] = st.session_state.get(seen), name
    switched = before is not None and before != name
    if switched and not reads_digits and st.session_state.get(source_key) == EXAMPLE_SOURCE:
        st.session_state[source_key] = first
