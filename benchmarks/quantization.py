"""Float against quantized runtimes of each bundled model, side by side in one run.

    python -m benchmarks.quantization --data-dir DIR [--n-realistic 300] [--repeats 300]

For every bundled model and every ONNX runtime that ships beside it: file size,
single-image latency (median), batch-of-64 throughput with one intra-op thread (what each
worker of a server or an audit with one worker per core gets) and with one per core, each
timed in turn with the other runtimes of the same model, top-1 agreement with the
float model and accuracy on the whole test set, and accuracy on the realistic
drawn/photographed digit sets of `benchmarks.realistic` (digit models only; the
inputs are preprocessed once and shared by every runtime). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from benchmarks.tables import Lines, command_line, write_table

BATCH = 64


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quantization", description=__doc__)
    p.add_argument("--data-dir", help="folder with the data sets (default $DIGITLENS_DATA_DIR)")
    p.add_argument("--repeats", type=int, default=300)
    p.add_argument("--n-realistic", type=int, default=300, help="inputs per realistic set")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)

    from model import load_classifier
    from model.datasets import load_split, locate, to_model_input
    from model.errors import ImageError, ModelLoadError
    from model.runtime.artifacts import BUNDLED
    from model.runtime.runtimes import ONNX_VARIANTS
    from training.renders import make_set

    out = Lines()
    out(
        f"{os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f} at start); "
        f"medians of {args.repeats} calls; realistic sets of {args.n_realistic} inputs each\n"
    )
    cores = os.cpu_count() or 1
    out(
        f"| model | runtime | file KB | 1 image ms | batch 64 img/s, 1 thread (x float) "
        f"| batch 64 img/s, {cores} threads (x float) | top-1 agreement with float "
        "| test accuracy | realistic canvas | realistic photo |"
    )
    out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in BUNDLED:
        ref = load_classifier(name, runtime="onnx")
        test = load_split(locate(ref.card.dataset_or_default, args.data_dir), "test")
        x = to_model_input(test.images)
        realistic = {}
        if ref.recipe == "mnist":
            for k, kind in enumerate(("canvas", "photo")):
                inputs, labels = make_set(
                    kind, test.images, test.labels, args.n_realistic, args.seed + k
                )
                rows, ok = [], []
                for item in inputs:
                    try:
                        rows.append(ref.preprocess(item))
                        ok.append(True)
                    except ImageError:  # counted as wrong, as benchmarks.realistic does
                        rows.append(np.zeros((28, 28), np.float32))
                        ok.append(False)
                realistic[kind] = (np.stack(rows), labels, np.array(ok))
        float_labels = ref.probabilities(x).argmax(1)
        loaded = {}
        for runtime in ONNX_VARIANTS:
            try:
                loaded[runtime] = {n: _load(name, runtime, n) for n in (1, cores)}
            except ModelLoadError:
                continue
        one, batch = x[:1], x[:BATCH]
        single = _interleaved({r: c[1] for r, c in loaded.items()}, one, args.repeats)
        batch_ms = {
            n: _interleaved({r: c[n] for r, c in loaded.items()}, batch, args.repeats // 3)
            for n in (1, cores)
        }
        for runtime, clfs in loaded.items():
            clf = clfs[1]
            got = clf.probabilities(x).argmax(1)
            cells = []
            for kind in ("canvas", "photo"):
                if kind in realistic:
                    rx, ry, ok = realistic[kind]
                    acc = float(((clf.probabilities(rx).argmax(1) == ry) & ok).mean())
                    cells.append(f"{acc:.1%}")
                else:
                    cells.append("n/a")
            rates = [
                f"{BATCH / batch_ms[n][runtime] * 1e3:,.0f} "
                f"({batch_ms[n]['onnx'] / batch_ms[n][runtime]:.2f}x)"
                for n in (1, cores)
            ]
            out(
                f"| {name} | {runtime} | {clf.runtime.path.stat().st_size / 1024:,.0f} "
                f"| {single[runtime]:.3f} | {' | '.join(rates)} "
                f"| {(got == float_labels).mean():.2%} | {(got == test.labels).mean():.2%} "
                f"| {' | '.join(cells)} |"
            )
    write_table(
        "quantization", out.markdown, command_line("python -m benchmarks.quantization", argv)
    )
    return 0


def _load(name: str, runtime: str, threads: int):
    """The classifier with its batch session on `threads` intra-op threads."""
    from model import load_classifier
    from model.runtime.runtimes import THREADS_ENV

    before = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = str(threads)
    try:
        return load_classifier(name, runtime=runtime)
    finally:
        if before is None:
            os.environ.pop(THREADS_ENV)
        else:
            os.environ[THREADS_ENV] = before


def _interleaved(clfs: dict, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms of `probabilities(x)` for each classifier, called in turn `repeats` times
    (after 10 calls each): a busy moment of the machine falls on all of them alike."""
    for clf in clfs.values():
        for _ in range(10):
            clf.probabilities(x)
    times: dict[str, list[float]] = {k: [] for k in clfs}
    for _ in range(repeats):
        for k, clf in clfs.items():
            t = time.perf_counter()
            clf.probabilities(x)
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    sys.exit(main())
