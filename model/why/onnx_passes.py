"""The compiled gradient passes of a bundled network, exported to ONNX: maps without TensorFlow.

`Passes` traces one `tf.function` per layer (forward and backward in one call). For a
network loaded from its file, the same function converted to ONNX answers the same three
arrays (logits, the layer's feature maps, the score's gradient with respect to them) in
one ONNX Runtime call: on this 2-core CPU a Grad-CAM pass costs about one forward pass
more, where TensorFlow's executor costs several (its thread hand-offs, not the maths).

`python -m training.passes` writes `<name>.passes-<layer>.onnx` (`.passes-input.onnx`
for the input's gradient) beside the `.keras` file, with a sidecar `<name>.passes.json`
that records the `.keras` file's SHA-256 and the largest difference from TensorFlow
found on random and real inputs. A pass is used only for the network object loaded from
that very file (`model.runtime.loading.source_of`); a copy (the sanity check's randomised
networks), a changed file or a layer without an export runs on TensorFlow as before.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from model.runtime.artifacts import cache_file, cached_file_sha256, store_in_cache
from model.runtime.runtimes import _session, default_threads

#: The name of the input's pass (`layer=None`) in file names and the sidecar.
INPUT = "input"
#: Inputs per call up to which the input's pass runs on ONNX Runtime: measured on this
#: 2-core CPU, its backward through the convolutions costs 0.8 ms for one input against
#: TensorFlow's 2.4 ms, 3.2 against 3.6 for four, but 5.3 against 4.6 for eight and 19
#: against 10 for 32 (Integrated Gradients' steps), where TensorFlow's kernels win. A
#: layer's pass (no backward through a convolution) is faster at every batch size.
INPUT_MAX_BATCH = 4
#: Inputs up to this many go to a single-threaded session (0.31 ms against 0.44 for one
#: Grad-CAM pass on two threads), more to one with a thread per core.
SMALL = 4


def _cache_file(path: Path) -> Path:
    """Where `one_input_graph` keeps its graph: named by the pass and this module (another
    export, or another way of fixing the batch, never meets it)."""
    return cache_file("passes", (Path(__file__), path))


def one_input_graph(path: Path) -> bytes | None:
    """The pass at `path` with its batch dimension fixed to 1, or None without the `onnx`
    package. The exported graph works out its shapes for a batch of any size (Shape,
    Slice, Concat, Cast); with the batch known, ONNX Runtime folds them when it opens the
    session (mnist-cnn's input pass: 241 nodes, 111 once folded). The same arithmetic on
    the same numbers (the same outputs, bit for bit on this machine's ONNX Runtime;
    tests/model/test_onnx_passes.py): the input's map 6 % faster, conv3's as fast (74
    nodes, little to fold since `Passes` hands the score's gradient in). Kept in
    `<cache>/passes/`, as `model.runtime.fused` keeps its graph."""
    cached = _cache_file(path)
    try:
        return cached.read_bytes()
    except OSError:  # not made yet, or a cache that cannot be read: made here
        pass
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path))
    values = [*model.graph.input, *model.graph.output]
    if any(not v.type.tensor_type.shape.dim for v in values):
        return None  # a value without a batch dimension to fix
    for value in values:
        batch = value.type.tensor_type.shape.dim[0]
        batch.ClearField("dim_param")
        batch.dim_value = 1
    data = model.SerializeToString()
    store_in_cache(cached, data)
    return data


def sidecar_path(keras_path: Path) -> Path:
    return keras_path.with_name(keras_path.stem + ".passes.json")


def pass_path(keras_path: Path, layer: str | None) -> Path:
    return keras_path.with_name(f"{keras_path.stem}.passes-{layer or INPUT}.onnx")


# ---------------------------------------------------------------- running


class OnnxPasses:
    """The exported passes of one `.keras` file; `gradients` answers None where there is
    none for the layer (the caller runs TensorFlow's)."""

    def __init__(self, keras_path: Path, layers: dict[str, Path]):
        self.keras_path = keras_path
        self._files = layers  # layer name (INPUT for the input) -> ONNX file
        #: (layer, "one" | "small" | "batch") -> (session, input names)
        self._sessions: dict[tuple[str, str], tuple[Any, list[str]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_file(cls, keras_path: Path | None) -> OnnxPasses | None:
        """The passes exported from exactly this file, or None (no sidecar, another file)."""
        if keras_path is None:
            return None
        sidecar = sidecar_path(keras_path)
        if not sidecar.is_file():
            return None
        record = json.loads(sidecar.read_text())
        if record.get("keras_sha256") != cached_file_sha256(keras_path):
            return None  # the .keras file changed since the export: never a stale map
        layers = {
            name: keras_path.with_name(info["file"])
            for name, info in record.get("layers", {}).items()
            if keras_path.with_name(info["file"]).is_file()
        }
        return cls(keras_path, layers) if layers else None

    @property
    def layer(self) -> str | None:
        """An exported layer (not the input), if any: the cheapest pass for logits alone."""
        return next((k for k in self._files if k != INPUT), None)

    def serves(self, layer: str | None, n: int) -> bool:
        """Whether a batch of n inputs on `layer` (None: the input) runs here."""
        key = layer or INPUT
        return key in self._files and (key != INPUT or n <= INPUT_MAX_BATCH)

    def _session(self, key: str, n: int) -> tuple[Any, list[str]]:
        """The session for `key` and n inputs: one input on the pass with its batch fixed
        (`one_input_graph`), small batches single-threaded, larger ones on every core."""
        size = "one" if n == 1 else "small" if n <= SMALL else "batch"
        with self._lock:
            if (key, size) not in self._sessions:
                threads = default_threads() if size == "batch" else 1
                s = self._one_input_session(key) if size == "one" else None
                s = s or _session(self._files[key], threads)
                self._sessions[key, size] = (s, [i.name for i in s.get_inputs()])
            return self._sessions[key, size]

    def _one_input_session(self, key: str) -> Any:
        """A session on `one_input_graph`, or None where it cannot be made (the caller
        uses the file's own graph): a damaged cache file is removed, to be made again."""
        try:
            graph = one_input_graph(self._files[key])
            return _session(graph, 1) if graph is not None else None
        except Exception:  # noqa: BLE001  (onnx's and ONNX Runtime's errors share no base)
            with contextlib.suppress(OSError):
                _cache_file(self._files[key]).unlink(missing_ok=True)
            return None

    def gradients(
        self, x: np.ndarray, target: np.ndarray, contrast: np.ndarray, layer: str | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits, feature maps, gradients) as `Passes.gradients` gives them; only where
        `serves(layer, len(x))`."""
        s, names = self._session(layer or INPUT, len(x))
        logits, fmap, grads = s.run(None, dict(zip(names, (x, target, contrast), strict=True)))
        return logits, fmap, grads
