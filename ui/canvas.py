"""The DigitLens drawing pad: a Streamlit components v2 element (inline JS/CSS, no build).

The pad draws with pointer events (mouse, touch and pen), shows the model's answer
while the pen moves (ONNX Runtime Web in the page, or the server), and sends the
drawing to Python the moment a stroke ends. Its JavaScript lives in `ui/web/` and
the in-browser pipeline in `static/digitlens/edge.mjs`, served by the app itself.

Every live answer carries the verdict Python would give the same 28x28 input (issue
#9): the page gets the model's detector (published like the model, content-addressed)
and the rule's numbers from `Judge.rule()` (`verdict_rule`), and the size rule of
model/input/preprocessing.py (`size_rule`), ported in `static/digitlens/verdict.mjs` and
`edge.mjs`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st

from model import Classifier, ImageError, Prediction
from model.input.refusals import (
    MIN_EXTENT_FRACTION,
    MIN_EXTENT_STROKES,
    SHORT_MARK_FRACTION,
    SHORT_MARK_STROKES,
    SHORT_STROKE_FRACTION,
    STRAIGHT_SPREAD,
)
from model.number import NumberReading
from model.runtime.runtimes import onnx_path_for

WEB = Path(__file__).with_name("web")
#: The app's static folder (Streamlit serves it at /app/static/ with enableStaticServing).
STATIC = Path(__file__).resolve().parents[1] / "static"
#: URL of that folder, relative to the page (works under a --server.baseUrlPath too).
STATIC_URL = "app/static/"
#: Content-addressed copies of the ONNX exports the page runs (not committed).
MODELS_DIR = STATIC / "models"

#: The canvas is this many pixels square inside (its on-screen size follows the layout).
CANVAS_SIZE = 280
#: Pen width in canvas pixels: default and range. 20 px on 280 is MNIST's stroke
#: width once the digit is fitted into 20x20 (about 2.5 px there).
PEN_DEFAULT = 20
PEN_MIN = 6
PEN_MAX = 40
#: A drawing arrives as a PNG data URL; nothing bigger than this is decoded.
MAX_DRAWING_BYTES = 2_000_000
PNG_PREFIX = "data:image/png;base64,"

#: The number pad (the Draw page's "A number"): as tall as the digit pad, 2.5 times as wide.
NUMBER_PAD_SIZE = (700, CANVAS_SIZE)

#: browser / server: who reads the digit while the pen moves; number: the server reads each
#: finished stroke as a number (`number_answer`).
Mode = Literal["browser", "server", "number"]


@dataclass(frozen=True)
class Drawing:
    """What the pad sent: the canvas as PNG (None when empty), its sequence number."""

    png: bytes | None
    seq: int
    final: bool  # the stroke ended (False: a read while the pen moves, server mode)
    strokes: int


@functools.cache
def _component() -> Any:
    """Register the component once per process (inline HTML/CSS/JS). The pad's words
    (`describe`) are static/digitlens/words.mjs, set before draw.js in the same module:
    the Camera page's words, there in every mode, also where the page loads no model."""
    return st.components.v2.component(
        "digitlens.drawing_pad",
        css=(WEB / "draw.css").read_text(),
        js=(STATIC / "digitlens" / "words.mjs").read_text() + (WEB / "draw.js").read_text(),
    )


def model_url(clf: Classifier) -> str | None:
    """The URL the page loads `clf`'s ONNX export from, or None when it has none.

    The export is copied into the static folder under its content hash, so a new
    model is a new URL (browsers never run a stale cached model) and the same model
    is fetched once. None also when the static folder cannot be written.
    """
    source = onnx_path_for(clf.artifact)
    if source is None:
        return None
    return _published(str(source))


def size_rule(pen: bool = True) -> dict[str, Any]:
    """The constants of model/input/refusals.py's "too small to read" rule (`check_size`),
    for its port in the page (static/digitlens/edge.mjs `tooSmall`): a tap or a short
    tick is refused there as it is in Python, never read as a digit. pen: the model reads
    pen strokes (the digit recipe), as `check_size`'s."""
    return {
        "pen": pen,
        "min_extent_strokes": MIN_EXTENT_STROKES,
        "min_extent_fraction": MIN_EXTENT_FRACTION,
        "short_mark_fraction": SHORT_MARK_FRACTION,
        "short_mark_strokes": SHORT_MARK_STROKES,
        "short_stroke_fraction": SHORT_STROKE_FRACTION,
        "straight_spread": STRAIGHT_SPREAD,
    }


def verdict_rule(clf: Classifier) -> dict[str, Any] | None:
    """What the page needs to give its live reading the verdict Python gives the same input.

    `clf.judge.rule()` (thresholds, softmax weight, loop rule: model/judge/verdict.py) and, for a
    model with a detector, `detectorUrl`: its ONNX file published like the model's.
    Models without one get the post-hoc rule (max-softmax), as in Python. None when the
    detector cannot be published: the page cannot then judge like Python does.
    """
    judge = clf.judge
    rule = judge.rule()
    if rule["method"] == "detector" and judge.detector is not None:
        url = _published(str(judge.detector.path))
        if url is None:
            return None
        rule["detectorUrl"] = url
    return rule


def live_reading(clf: Classifier) -> tuple[str | None, dict[str, Any] | None]:
    """(model URL, verdict rule) for a reading in the page, or (None, None) when the page
    cannot read like Python does: no ONNX export, or a verdict it cannot give (the Draw
    pad and the Camera page read nothing they cannot judge; the server answers instead)."""
    url = model_url(clf)
    rule = verdict_rule(clf) if url else None
    return (url, rule) if rule is not None else (None, None)


@functools.cache
def _published(source: str) -> str | None:
    data = Path(source).read_bytes()
    name = f"{Path(source).stem}-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
    target = MODELS_DIR / name
    try:
        if not target.is_file():
            MODELS_DIR.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
    except OSError:
        return None
    return STATIC_URL + "models/" + name


def decode_png(url: str | None) -> bytes | None:
    """The PNG bytes of a data URL from the pad; ImageError for anything else."""
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(PNG_PREFIX):
        raise ImageError("the drawing did not arrive as a PNG")
    if len(url) > MAX_DRAWING_BYTES:
        raise ImageError("the drawing is too large")
    try:
        return base64.b64decode(url[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"the drawing could not be decoded ({exc})") from exc


#: The Draw page's pad: its key in session state (its drawing lives there), and the name
#: the Explain and Evidence pads keep their strokes by, so that they show its drawing.
DRAW_PAD = "pad"
#: Whether the Draw page holds a drawing (True; None when cleared), kept while that page
#: is not shown: the Explain and Evidence pages open on it (`opens_on_drawing`).
DRAWN = "_drawn_on_pad"


def opens_on_drawing(source_key: str) -> bool:
    """Whether a page whose input is chosen by the radio `source_key` opens on the Draw
    page's drawing ("compare them all on the Explain page"; it opened on its example):
    there is one, and the page was not opened before in this session (after that, the
    input chosen there stays, as every choice does across pages)."""
    return source_key not in st.session_state and st.session_state.get(DRAWN) is not None


def drawing_from_state(state: Any) -> Drawing | None:
    """The pad's last drawing from its session state (None before the first stroke)."""
    value = state.get("drawing") if hasattr(state, "get") else None
    if not isinstance(value, dict):
        return None
    return Drawing(
        png=decode_png(value.get("png")),
        seq=int(value.get("seq", 0)),
        final=bool(value.get("final", True)),
        strokes=int(value.get("strokes", 0)),
    )


def pad_answer(seq: int, pred: Prediction | None = None, ms: float = 0.0) -> dict[str, Any]:
    """Python's answer to the pad's send `seq`, for `drawing_pad(server=...)`: the
    prediction with its verdict, or no reading (nothing drawn, or nothing readable)."""
    if pred is None:
        return {"seq": seq, "label": None, "probs": None, "ms": ms}
    return {
        "seq": seq,
        "label": pred.class_name,
        "probs": [float(p) for p in pred.probabilities],
        "verdict": pred.verdict,
        "reason": pred.reason,
        "ms": ms,
    }


def number_answer(seq: int, reading: NumberReading | None = None, ms: float = 0.0) -> dict:
    """Python's reading of the number pad's send `seq` (`drawing_pad(server=...)` in number
    mode): the number, its verdict and, when refused, why; nothing drawn: no reading."""
    if reading is None:
        return {"seq": seq, "label": None, "probs": None, "text": None, "ms": ms}
    return {
        "seq": seq,
        "label": None,
        "probs": None,
        "text": reading.text,
        "verdict": reading.verdict,
        "reason": reading.refusal,
        "ms": ms,
    }


def drawing_pad(
    key: str,
    clf: Classifier,
    mode: Mode = "browser",
    server: dict | None = None,
    command: tuple[str, int] | None = None,
    size: tuple[int, int] = (CANVAS_SIZE, CANVAS_SIZE),
    kept_as: str | None = None,
) -> None:
    """Draw the pad. Its drawing is read with `drawing_from_state(st.session_state[key])`.

    server: the server's answer to the pad's latest send ({seq, label, probs, verdict, ms}),
    shown live in server mode and used to measure the round trip; command:
    ("undo" | "clear", id) applies once per new id, so Python can drive the pad;
    size: (width, height) in canvas pixels, fixed when the pad first appears; kept_as:
    the name its strokes are kept by in the tab (default `key`): pads of one name share
    one drawing, which each draws again when it appears (the Explain and Evidence pads
    keep the Draw page's, `DRAW_PAD`).
    """
    url, rule = live_reading(clf)  # loaded in either mode, so switching is instant
    data = {
        # A pad made anew (its page left and come back to, or the page's layout changed
        # with the model) draws its last strokes again, kept in the tab by this key, and
        # sends them, as if its last stroke had just ended (Streamlit forgets the state
        # of a pad that is not on the page).
        "key": kept_as or key,
        "size": CANVAS_SIZE,
        "width": size[0],
        "height": size[1],
        "pen": PEN_DEFAULT,
        "penMin": PEN_MIN,
        "penMax": PEN_MAX,
        "mode": mode if url or mode == "number" else "server",
        "modelUrl": url,
        "verdict": rule,
        "tooSmall": size_rule(pen=clf.recipe == "mnist"),
        "recipe": clf.recipe,
        "thing": clf.judge.thing,  # what the model reads, for the pad's words
        "classes": list(clf.class_names),
        "readsDigits": clf.reads_digits,  # digits or names under the bars, and in the words
        "staticUrl": STATIC_URL,
        "server": server,
        "command": {"op": command[0], "id": command[1]} if command else None,
    }
    _component()(
        key=key,
        data=data,
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width="stretch",
    )
