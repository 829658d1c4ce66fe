"""Where the forward pass runs: ONNX Runtime (no TensorFlow) or one compiled `tf.function`.

Never `model.predict` (tens of ms a call). Quantized exports (`<name>.int8.onnx`,
`<name>.fp16.onnx`) are chosen by runtime name; each records the SHA-256 of the
`.keras` file it was made from, so a stale export is never used.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from model.runtime.artifacts import Artifact, cached_file_sha256
from model.runtime.backend import compiled, import_keras
from model.runtime.fused import fused_graph
from model.runtime.litert import Work, choose, load_pair

if TYPE_CHECKING:
    import keras

#: Overrides the ONNX Runtime thread count for batches (default: every core).
THREADS_ENV = "DIGITLENS_THREADS"
#: What `load_classifier(runtime=...)` accepts. `auto`: the float ONNX export where one
#: matches the `.keras` file, else Keras.
RUNTIMES = ("auto", "onnx", "onnx-int8", "onnx-fp16", "keras")
#: The ONNX file of each ONNX runtime, by what goes between the model name and `.onnx`.
ONNX_VARIANTS = {"onnx": "", "onnx-int8": ".int8", "onnx-fp16": ".fp16"}
#: `Runtime.name` of each ONNX runtime, as `/v1/models` and the app show it.
ONNX_NAMES = {
    "onnx": "onnxruntime",
    "onnx-int8": "onnxruntime-int8",
    "onnx-fp16": "onnxruntime-fp16",
}


#: A batch is cut into shards, one per thread at most, each run at once on the
#: single-threaded session, where a shard takes at least this long on it: ONNX Runtime
#: splits each operator of a small network between its threads and gains little there
#: (int8 most of all), while handing a shard to a thread costs tens of microseconds,
#: more than a tiny model (mnist-mlp) spends on a small batch (docs/reference/runtimes.md).
SHARD_MIN_MS = 1.0
#: The fewest inputs per session call within a shard (`OnnxRuntime.piece_size`): fewer
#: cost more in calls than the cache saves (mnist-cnn: 1 input a call 1.2x slower than 8).
PIECE_MIN = 8


def default_threads() -> int:
    """Intra-op threads for batches: $DIGITLENS_THREADS, else one per core of this machine."""
    return int(os.environ.get(THREADS_ENV) or os.cpu_count() or 1)


class Runtime(Protocol):
    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, H, W, C) float32 -> (N, K) float32 probabilities, in one call."""


class KerasRuntime:
    """One traced `tf.function` with a fixed signature: no retracing for any batch size."""

    name = "tf.function"

    def __init__(self, net: keras.Model):
        import_keras()
        import tensorflow as tf

        shape = [int(d) for d in net.inputs[0].shape[1:]]  # (H, W, C), the model's own
        self._fn = compiled(
            lambda x: net(x, training=False),
            input_signature=[tf.TensorSpec([None, *shape], tf.float32)],
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(x).numpy()


class OnnxRuntime:
    """ONNX Runtime; `run` is thread-safe, so one instance serves every thread.

    Two sessions of the same file: a single-threaded one for small inputs (no thread
    pool to wake) and a multi-threaded one for batches. Neither busy-waits between
    calls, so idle inference threads never take the cores that decoding and the web
    server need. Once a batch has shown what an input costs, a batch worth it is cut
    into shards run at once on the single-threaded session instead (`SHARD_MIN_MS`):
    the same numbers, each input computed alone either way.
    """

    SMALL = 4  # inputs up to this many go to the single-threaded session

    def __init__(
        self,
        path: Path,
        threads: int | None = None,
        name: str = "onnxruntime",
        litert_from: Path | None = None,
        close_calls: tuple[Path, float] | None = None,
    ):
        """litert_from: the `.keras` file whose LiteRT file (`model.runtime.litert`) may
        answer single inputs once a detector is attached, where it measures faster;
        None: ONNX Runtime answers everything. close_calls: (a float model's file, margin):
        every input whose two most likely classes are closer than the margin is answered
        by that model instead (a quantized model's close calls, `settle`)."""
        self.name = name
        self.path = Path(path)
        self._threads = threads or default_threads()
        self._small = _session(self.path, 1)
        self._batch = self._small if self._threads == 1 else _session(self.path, self._threads)
        self.close_calls = close_calls
        self._referee = OnnxRuntime(close_calls[0], threads) if close_calls else None
        self._fused: tuple | None = None  # (small, batch) sessions with the detector fused in
        self._litert_from = litert_from
        self._detector: Path | None = None  # the detector attached (auto only)
        self._pair = None  # the LiteRT pair found beside the model, if loaded
        self._one = None  # ... where it answers single inputs
        #: Who answers one input with its detector, and the times that chose it (ms): this
        #: runtime's own fused session (an int8 or fp16 file's too) unless LiteRT measured
        #: faster (`auto`).
        self.single: str = name
        self.single_ms: dict[str, float] = {}
        #: Milliseconds per input of each session pair's batches (by its single-threaded
        #: session's id), measured on its first batch; the shards' threads, once needed.
        self._cost: dict[int, float] = {}
        self._shards: ThreadPoolExecutor | None = None
        self._shards_pid = 0  # the process that started them
        inp, out = self._small.get_inputs()[0], self._small.get_outputs()[0]
        self._input = inp.name
        # Dimensions as ONNX states them: None or a name for a free batch dimension.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.output_shape = tuple(d if isinstance(d, int) else None for d in out.shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.settle(x, self._run(self._small, self._batch, x)[0])

    def _run(self, small, batch, x: np.ndarray) -> list[np.ndarray]:
        """Every output of one session pair for `x`: small inputs on the single-threaded
        session, a batch on the multi-threaded one (timed, the first time), or in shards
        (one per thread) of pieces (`piece_size`) on the single-threaded one."""
        n = len(x)
        if n <= self.SMALL:
            return small.run(None, {self._input: x})
        cost = self._cost.get(id(small))
        k = self.shard_count(id(small), n)
        if cost is None or (k <= 1 and (self._threads > 1 or n <= self.piece_size(cost))):
            start = time.perf_counter()
            out = batch.run(None, {self._input: x})
            # (wall time on every thread: a cost per input no higher than one thread's)
            self._cost.setdefault(id(small), (time.perf_counter() - start) * 1e3 / n)
            return out
        size = self.piece_size(cost)
        if k == 1:  # (one thread)
            return self._in_pieces(small, x, size)
        cuts = np.linspace(0, n, k + 1).astype(int)
        parts = [x[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        if self._shards is None or self._shards_pid != os.getpid():  # (a fork has no threads)
            self._shards = ThreadPoolExecutor(self._threads - 1, "onnx-shard")
            self._shards_pid = os.getpid()
        rest = [self._shards.submit(self._in_pieces, small, p, size) for p in parts[1:]]
        first = self._in_pieces(small, parts[0], size)
        return [np.concatenate(o) for o in zip(first, *(f.result() for f in rest), strict=True)]

    def _in_pieces(self, session, x: np.ndarray, size: int) -> list[np.ndarray]:
        """Every output of `session` for `x`, run `size` inputs at a time."""
        if len(x) <= size:
            return session.run(None, {self._input: x})
        outs = [session.run(None, {self._input: x[i : i + size]}) for i in range(0, len(x), size)]
        return [np.concatenate(o) for o in zip(*outs, strict=True)]

    @staticmethod
    def piece_size(cost: float) -> int:
        """Inputs per session call within a shard, for a model that costs `cost` ms an
        input: about SHARD_MIN_MS of work. A whole batch's layers pass it on from one
        to the next as tensors larger than the cache: a float CNN on 28x28 digits read
        1,024 inputs 1.45x as fast in calls of 4-8 as in one call, on one thread; a
        tiny model (mnist-mlp, ~5 us an input) keeps calls of hundreds, where the call's
        own cost would show; never under PIECE_MIN (docs/reference/runtimes.md)."""
        return max(PIECE_MIN, int(SHARD_MIN_MS / max(cost, 1e-9)))

    def shard_count(self, session: int, n: int) -> int:
        """Shards for a batch of `n` on the session pair `session` (the single-threaded
        session's id): as many as the threads (and inputs), each worth SHARD_MIN_MS; 1
        until a batch of that pair has been timed, and always with one thread."""
        cost = self._cost.get(session)
        if self._threads == 1 or cost is None:
            return 1
        return max(1, min(self._threads, n, int(n * cost / SHARD_MIN_MS)))

    def settle(self, x: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """`probs` with each close call (top two classes nearer than the margin of
        `close_calls`, as the export measured them) answered by the float model, in one
        call for all; an int8 model's own answers made whole (an export whose softmax was
        quantized gives steps of 1/255: a confident digit's summed to 0.992; ours keep
        the softmax float, `model.runtime.export`)."""
        if not len(probs):
            return probs
        close = (
            np.flatnonzero(close_call_rows(probs, self.close_calls[1]))
            if self._referee is not None
            else ()
        )
        if self.name == ONNX_NAMES["onnx-int8"]:
            probs = probs / probs.sum(axis=1, keepdims=True)
        if len(close):
            probs[close] = self._referee(np.ascontiguousarray(x[close]))
        return probs

    def attach_detector(self, detector: Path, between: Work | None = None) -> bool:
        """Fuse a digit detector (`<name>.ood.onnx`) into this graph, so that
        `predict_and_detect` answers both in one call (`model.runtime.fused`).
        False, and nothing changes, where the two files cannot be joined. between: what
        a caller does between two single predictions, timed with each where LiteRT and
        ONNX Runtime are measured for them (`model.runtime.litert.faster`)."""
        graph = fused_graph(self.path, detector)
        if graph is None:
            return False
        try:
            small = _session(graph, 1)
        except Exception:  # noqa: BLE001  (ONNX Runtime's errors have no common base)
            return False  # a graph ONNX Runtime refuses: the two sessions serve as before
        self._fused = (small, small if self._threads == 1 else _session(graph, self._threads))
        if self._litert_from is not None:
            self._choose_single(Path(detector), between)
        return True

    def _choose_single(self, detector: Path, between: Work | None) -> None:
        """LiteRT or the fused session for single inputs, by measurement on this machine."""
        small = self._fused[0]
        shape = [d or 1 for d in self.input_shape]
        x = np.random.default_rng(0).random(shape, dtype=np.float32)

        def onnx(a: np.ndarray):
            return small.run(None, {self._input: a})

        self._detector = detector
        self.single, self.single_ms, self._pair = choose(
            self._litert_from, detector, onnx, x, between
        )
        self._one = self._pair if self.single == "litert" else None

    def answer_single_with(self, name: str) -> None:
        """Override the measured choice: `litert` or `onnxruntime` answers single inputs
        (benchmarks and tests compare the two). LiteRT only where `auto` found its file."""
        if name == "litert" and self._pair is None and self._detector is not None:
            self._pair = load_pair(self._litert_from, self._detector)  # ONNX Runtime had won
        if name == "litert" and self._pair is None:
            raise ValueError("no LiteRT file was found for this model (runtime='auto' only)")
        if name not in ("litert", "onnxruntime", self.name):
            raise ValueError(f"unknown single-input runtime {name!r}")
        single = "litert" if name == "litert" else self.name  # (its own session, whatever file)
        self.single, self._one = single, self._pair if single == "litert" else None

    @contextmanager
    def answering_single_with(self, name: str) -> Iterator[None]:
        """`answer_single_with(name)` for the length of a block, then the choice before."""
        before = self.single
        self.answer_single_with(name)
        try:
            yield
        finally:
            self.answer_single_with(before)

    @property
    def fused(self) -> bool:
        return self._fused is not None

    def predict_and_detect(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, H, W, C) float32 -> ((N, K) probabilities, (N,) detector log-odds), one call.
        Only after `attach_detector` returned True."""
        if self._fused is None:
            raise RuntimeError("no detector is fused into this runtime")
        if len(x) == 1 and self._one is not None:
            return self._one(x)
        probs, logodds = self._run(*self._fused, x)
        return self.settle(x, probs), logodds.reshape(-1)


def close_call_rows(probs: np.ndarray, margin: float) -> np.ndarray:
    """Bool per row of (N, K) probabilities: its two most likely classes nearer than
    `margin` (a close call: what `OnnxRuntime.settle` has the float model answer, and
    what the export chooses the margin by)."""
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0] < margin


def _session(model: Path | bytes, n_threads: int):
    """An ONNX Runtime session on the CPU that never busy-waits between calls."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = n_threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def variant_path(keras_path: Path, runtime: str, suffix: str = ".onnx") -> Path:
    """`<name><variant>.onnx` (or the variant's `.json` sidecar) beside the `.keras` file."""
    return keras_path.with_name(keras_path.stem + ONNX_VARIANTS[runtime] + suffix)


def variant_info(artifact: Artifact, runtime: str = "onnx") -> dict | None:
    """What is recorded about an ONNX runtime: the card's `runtimes.onnx` entry for the
    float export, a `<name>.<variant>.json` sidecar for quantized ones (so they never
    need the card edited)."""
    if runtime == "onnx":
        return artifact.card.onnx
    sidecar = variant_path(artifact.keras_path, runtime, ".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def onnx_path_for(artifact: Artifact, runtime: str = "onnx") -> Path | None:
    """The ONNX file for `runtime` beside the `.keras` file, if made from exactly this file."""
    info = variant_info(artifact, runtime)
    if not info:
        return None
    path = artifact.keras_path.parent / info["file"]
    if not path.is_file() or info.get("keras_sha256") != cached_file_sha256(artifact.keras_path):
        return None
    return path


def close_calls(artifact: Artifact, runtime: str) -> tuple[Path, float] | None:
    """(the float export, margin) where a quantized variant's sidecar says which of its
    answers the float model settles (`OnnxRuntime.settle`), else None."""
    margin = (variant_info(artifact, runtime) or {}).get("close_calls", {}).get("margin")
    float_path = onnx_path_for(artifact, "onnx") if runtime != "onnx" and margin else None
    return (float_path, float(margin)) if float_path is not None else None
