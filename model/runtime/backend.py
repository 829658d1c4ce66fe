"""Keras and TensorFlow, imported only where a Keras path needs them, and quietly.

Prediction runs on ONNX Runtime and never imports TensorFlow (a slow, memory-heavy
import: README, "Cold start"). Explanations, the Keras runtime, exports and training do; they call
`import_keras()` first, which imports TensorFlow once with its start-up chatter
filtered out. Real errors still reach stderr: only the known noise lines are
dropped, everything else TensorFlow writes while importing is passed on.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from types import ModuleType
from typing import Any

#: TensorFlow's C++ log level: 2 hides INFO and WARNING lines, keeps ERROR and FATAL.
TF_LOG_LEVEL = "2"
#: Lines TensorFlow prints on every import whatever TF_CPP_MIN_LOG_LEVEL says (the
#: absl pre-init banner and the oneDNN notice, both INFO). Anything else is kept.
IMPORT_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"^I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on"),
)
#: LiteRT announces its CPU delegate on every interpreter it makes, on stderr.
LITERT_NOISE = (re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU"),)
#: Keras warns on every call of a functional model whose single input is named and
#: is called with a bare tensor (as tf-keras-vis does): harmless, and repeated per map.
KERAS_NOISE = r"The structure of `inputs` doesn't match the expected structure"

_lock = threading.Lock()
_imported = threading.Event()  # set once `import_keras` has finished its import


@contextlib.contextmanager
def filtered_stderr(noise: tuple[re.Pattern, ...]) -> Iterator[None]:
    """Capture file descriptor 2 (C++ code writes there directly), then pass on every
    captured line that is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not any(p.search(line) for p in noise)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def quiet_tensorflow() -> None:
    """Set TensorFlow's log level and the Keras warning filter (before TensorFlow loads)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    warnings.filterwarnings("ignore", message=KERAS_NOISE, category=UserWarning)


def import_keras() -> ModuleType:
    """`keras`, importing TensorFlow on the first call with its start-up noise filtered.

    Only a finished import is returned: while one thread imports Keras (seconds), both
    "keras" and "tensorflow" are in `sys.modules` half made, and a page that found them
    there got "partially initialized module 'keras' has no attribute 'saving'" (the app's
    warm-up thread and an Upload page's first map, a user test); it waits for the lock."""
    quiet_tensorflow()
    if _imported.is_set():
        return sys.modules["keras"]
    with _lock:
        if not _imported.is_set():
            with filtered_stderr(IMPORT_NOISE):
                import keras  # noqa: F401  (read from sys.modules below)
                import tensorflow  # noqa: F401  (Keras' backend; imported here, quietly)
            _imported.set()
    return sys.modules["keras"]


def tensorflow_loaded() -> bool:
    """Whether this process has imported TensorFlow (the predict path never does)."""
    return "tensorflow" in sys.modules


def compiled(fn: Callable, input_signature: list) -> Any:
    """`tf.function(fn, input_signature=...)`, its traces counted as its own.

    TensorFlow counts traces by the code of the function it wraps, so the same lambda or
    nested `def` compiled once per network (or per layer) read as one function traced
    again and again: "5 out of the last 5 calls to <function ...> triggered
    tf.function retracing" in the app's and the server's logs, after a few layers or
    models, each traced once. A `partial` has no code object: it is its own key."""
    import tensorflow as tf

    return tf.function(partial(fn), input_signature=input_signature)
