"""The classifier and its digit detector on LiteRT, for one input at a time.

    python -m model.runtime.export --model mnist-cnn --format litert

writes `<name>.tflite`: one LiteRT graph with the classifier's probabilities and the
detector's log-odds (as `model.runtime.fused` joins them for ONNX Runtime), converted
from the `.keras` file and from the detector's ONNX file (`<name>.ood.onnx`, whose few
layer kinds are rebuilt in Keras, weight for weight), and checked against ONNX Runtime's
fused graph (max abs difference < 1e-4; `model.runtime.litert_export` makes it). A
sidecar `<name>.litert.json` records the SHA-256 of both sources, so a stale file is
never used.

With `runtime="auto"`, a single input goes to whichever of LiteRT and ONNX Runtime's
fused graph answered faster on this machine (`faster`: both timed on the same input in
alternating blocks, each call with the work a caller does between two calls after it,
median thread CPU time), measured at the first prediction and remembered in
`<cache>/runtimes/<name>.single.json` for this CPU, these files, these versions and
that work (`Work.key`; delete the file to measure again); batches always go to ONNX
Runtime. `runtime="onnx"` never uses LiteRT. Needs `ai-edge-litert` at run time (no
TensorFlow) and TensorFlow to make the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from model.runtime.artifacts import cache_dir, cached_file_sha256, sources_sha256, store_in_cache
from model.runtime.backend import LITERT_NOISE, filtered_stderr

#: What ONNX Runtime's fused graph and the LiteRT file may differ by, on any input.
MAX_ABS_DIFF = 1e-4
#: Calls of each candidate when choosing at load time (~0.3 s in all with a canvas's
#: preprocessing after each), in blocks of CHOICE_BLOCK in a row, the first
#: CHOICE_WARMUP of each untimed.
CHOICE_CALLS = 100
CHOICE_BLOCK = 20
CHOICE_WARMUP = 2
#: The first candidate (ONNX Runtime, which loads anyway: batches run on it) is kept
#: unless another's median is lower by more than this share: today's runs of the same
#: choice differed by 1-2 % from one to the next (0.754 vs 0.742 ms, 0.830 vs 0.830), and
#: a tie chose LiteRT as often as not, its bare call 1.2x ONNX Runtime's.
CHOICE_MARGIN = 0.03
#: How `faster` measures: part of the remembered choice's key (a choice measured
#: otherwise is measured again).
CHOICE_METHOD = "blocks; each call with the caller's work after it; the first kept within 3 %"


class Work(NamedTuple):
    """What a caller does between two single predictions (`run`, timed with each call by
    `faster`), and what identifies it (`key`: recorded with the remembered choice, which a
    change of it measures again; e.g. which preprocessing and the hash of its code)."""

    run: Callable[[], object]
    key: Mapping[str, str]


Pair = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def sidecar_path(keras_path: Path) -> Path:
    return keras_path.with_name(f"{keras_path.stem}.litert.json")


def litert_path_for(keras_path: Path, detector: Path) -> Path | None:
    """`<name>.tflite` if it was made from exactly this `.keras` file and detector."""
    sidecar = sidecar_path(keras_path)
    if not sidecar.is_file():
        return None
    info = json.loads(sidecar.read_text())
    path = keras_path.parent / info.get("file", "")
    if not path.is_file() or not Path(detector).is_file():
        return None
    if info.get("keras_sha256") != cached_file_sha256(keras_path):
        return None
    if info.get("detector_sha256") != cached_file_sha256(detector):
        return None
    return path


class LiteRtPair:
    """(1, H, W, C) float32 -> ((1, K) probabilities, (1,) log-odds) on LiteRT, one
    thread. An interpreter is not thread-safe: each thread gets its own on first use."""

    name = "litert"

    def __init__(self, path: Path):
        self._model = Path(path).read_bytes()
        self._local = threading.local()
        self._interpreter()  # fail now, not on the first request, if LiteRT refuses it

    def _interpreter(self):
        it = getattr(self._local, "it", None)
        if it is None:
            from ai_edge_litert.interpreter import Interpreter

            with filtered_stderr(LITERT_NOISE):
                it = Interpreter(model_content=self._model, num_threads=1)
                it.allocate_tensors()
            outs = it.get_output_details()
            # The detector's output is (1, 1), the classifier's (1, K) with K >= 2.
            det = next(o["index"] for o in outs if int(o["shape"][-1]) == 1)
            clf = next(o["index"] for o in outs if int(o["shape"][-1]) != 1)
            self._local.it = it = (it, it.get_input_details()[0]["index"], clf, det)
        return it

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        it, inp, clf, det = self._interpreter()
        it.set_tensor(inp, x)
        it.invoke()
        return it.get_tensor(clf), it.get_tensor(det).reshape(-1)  # copies


def load_pair(keras_path: Path, detector: Path) -> LiteRtPair | None:
    """The LiteRT pair beside the model, or None (no file, stale, or no ai-edge-litert)."""
    path = litert_path_for(keras_path, detector)
    if path is None:
        return None
    try:
        return LiteRtPair(path)
    except Exception:  # noqa: BLE001  (ImportError, or LiteRT refusing the file)
        return None


def choose(
    keras_path: Path,
    detector: Path,
    onnx: Pair,
    x: np.ndarray,
    between: Work | None = None,
) -> tuple[str, dict[str, float], LiteRtPair | None]:
    """(who answers single inputs, the medians in ms that chose it, the LiteRT pair where
    it was loaded). between: what a caller does between two calls (`faster`). The choice
    is remembered per machine (`remembered`): later processes reuse it, and never import
    LiteRT where ONNX Runtime won."""
    if litert_path_for(keras_path, detector) is None:
        return "onnxruntime", {}, None
    key = choice_key(keras_path, None if between is None else between.key)
    known = remembered(keras_path, key)
    if known is not None and known["single"] == "onnxruntime":
        return "onnxruntime", known["ms"], None
    pair = load_pair(keras_path, detector)
    if pair is None:
        return "onnxruntime", {}, None
    if known is not None:
        return known["single"], known["ms"], pair
    run = None if between is None else between.run
    single, ms = faster({"onnxruntime": onnx, "litert": pair}, x, between=run)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = {"key": key, "single": single, "ms": ms, "measured": when, "load": _load()}
    store_in_cache(choice_path(keras_path), (json.dumps(record, indent=2) + "\n").encode())
    return single, ms, pair


def _load() -> float | None:
    """The 1-minute load average when the choice was measured (a busy machine's choice
    may not hold on a quiet one: delete the file to measure again)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def choice_path(keras_path: Path) -> Path:
    """`<cache>/runtimes/<name>.single.json`: the choice measured on this machine."""
    return cache_dir() / "runtimes" / f"{keras_path.stem}.single.json"


def choice_key(keras_path: Path, between: Mapping[str, str] | None = None) -> dict:
    """What a remembered choice holds for: this machine (CPU model, cores), the two files
    (the sidecar's hashes), the code that builds the fused graph, both runtimes' versions,
    how it was measured (`CHOICE_METHOD`) and the caller's work between the calls (its
    `Work.key`, or None: the calls alone). Any change measures again."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("onnxruntime", "ai-edge-litert"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    record = json.loads(sidecar_path(keras_path).read_text())
    # ONNX Runtime's side is the fused graph, which `fused.CODE` builds (the fold made it
    # faster): a choice measured against another build is measured again.
    from model.runtime import fused

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "keras_sha256": record.get("keras_sha256"),
        "detector_sha256": record.get("detector_sha256"),
        "fused_code_sha256": sources_sha256(fused.CODE),
        **versions,
        "method": CHOICE_METHOD if between is not None else "blocks; the calls alone",
        # (as it reads back from the file: a key that changes on the way never matches)
        **({"between": json.loads(json.dumps(dict(between)))} if between is not None else {}),
    }


def remembered(keras_path: Path, key: dict) -> dict | None:
    """{"single", "ms"} measured before on this machine for `key`, or None."""
    path = choice_path(keras_path)
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if known.get("key") != key or known.get("single") not in ("onnxruntime", "litert"):
        return None
    return known


def faster(
    candidates: dict[str, Pair],
    x: np.ndarray,
    calls: int = CHOICE_CALLS,
    clock: Callable[[], float] = time.thread_time,
    between: Callable[[], object] | None = None,
    block: int = CHOICE_BLOCK,
    margin: float = CHOICE_MARGIN,
) -> tuple[str, dict[str, float]]:
    """(the name of the candidate with the lowest median time on `x`, each one's median
    in ms); the first candidate is kept unless another's median is lower by more than
    `margin` of its own (a tie within the noise of the measure changes nothing).

    Each candidate runs `block` calls in a row, as a process runs the one it chose, the
    first CHOICE_WARMUP of them untimed; the blocks alternate, first one candidate first,
    then the other, so a change of load on the machine hits all alike. `between` is the
    work a caller does between two calls (the digit models: preprocessing a canvas), run
    after each call and timed with it: a call that leaves more of the caches cold slows
    what runs next. Alone, ONNX Runtime's fused call measured faster than LiteRT's here;
    with a canvas's preprocessing after each, LiteRT did (docs/reference/runtimes.md)."""
    for fn in candidates.values():
        fn(x)  # the first call sets up buffers
    block = max(1, min(block, calls))
    warmup = min(CHOICE_WARMUP, block - 1)
    rounds = max(2, -(-calls // (block - warmup)))
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            fn = candidates[name]
            for i in range(block):
                start = clock()
                fn(x)
                if between is not None:
                    between()
                if i >= warmup:
                    times[name].append(clock() - start)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    best = min(medians, key=medians.__getitem__)
    first = names[0]
    return (best if medians[best] < medians[first] * (1 - margin) else first), medians
