"""The live camera: a components v2 element reading frames in the browser (no build).

Every reading carries the verdict Python would give the same 28x28 input (issue #9),
as on the Draw pad: the page gets the model's detector and `Judge.rule()`
(`ui.canvas.verdict_rule`) and the "too small to read" rule (`ui.canvas.size_rule`).
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from model import Classifier
from ui.canvas import STATIC_URL, WEB, live_reading, size_rule

#: Frames are scaled down to this longest side before the digit is looked for:
#: enough for a digit that fills a tenth of the view, cheap enough for phones.
FRAME_SIDE = 160


@functools.cache
def _component() -> Any:
    return st.components.v2.component(
        "digitlens.camera",
        css=(WEB / "camera.css").read_text(),
        js=(WEB / "camera.js").read_text(),
    )


def live_camera(key: str, clf: Classifier) -> bool:
    """Show the camera reading digits with `clf` in the page; False when it cannot run there
    (no ONNX export, or no verdict to give its readings: the page reads nothing it cannot
    judge)."""
    url, rule = live_reading(clf)
    _component()(
        key=key,
        data={
            "modelUrl": url,
            "staticUrl": STATIC_URL,
            "classes": list(clf.class_names),
            "side": FRAME_SIDE,
            "verdict": rule,
            "tooSmall": size_rule(),
        },
        width="stretch",
    )
    return url is not None
