"""Latency and throughput of every prediction path, measured in one run.

    python -m benchmarks.inference [--model mnist-cnn] [--repeats 200]

Prints a markdown table of medians and ratios (against our single-image path).
Nothing here is asserted in tests: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from benchmarks.tables import Lines, command_line, slug, write_table


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def litert_runner(net) -> Callable[[np.ndarray], np.ndarray] | None:
    """LiteRT float32 interpreter for `net`, if ai-edge-litert is installed."""
    try:
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(converter.convert())
    interp = Interpreter(model_path=f.name, num_threads=2)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

    def run(x):
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(out)

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=__doc__)
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)

    from PIL import Image

    from model import load_classifier
    from model.input.samples import drawn_digit
    from model.why.attribution import compute_maps

    clf = load_classifier(args.model)
    keras_clf = load_classifier(args.model, runtime="keras")
    net = clf.net
    canvas = drawn_digit(7).convert("RGBA")
    x28 = clf.preprocess(canvas)
    x = x28.reshape(1, 28, 28, 1)
    batch = np.repeat(x, 64, axis=0)
    r = args.repeats

    rows: list[tuple[str, float, str]] = []  # (what, ms, note)
    ours = median_ms(lambda: clf.predict_input(x28), r)
    rows.append(
        (
            "`model.predict(x)` (naive)",
            median_ms(lambda: net.predict(x, verbose=0), max(r // 10, 10)),
            "Keras",
        )
    )
    rows.append(("`model(x)` eager", median_ms(lambda: net(x), r // 2), "Keras"))
    rows.append(
        (
            "compiled `tf.function` (fallback path)",
            median_ms(lambda: keras_clf.predict_input(x28), r),
            "Keras",
        )
    )
    rows.append(("ONNX Runtime, raw session call", median_ms(lambda: clf.runtime(x), r), ""))
    lite = litert_runner(net)
    if lite:
        rows.append(("LiteRT float32, raw interpreter call", median_ms(lambda: lite(x), r), ""))
    rows.append(("**our path** `clf.predict_input(x28)`", ours, clf.runtime.name))
    rows.append(
        (
            "canvas image end to end `clf.predict(rgba)`",
            median_ms(lambda: clf.predict(canvas), r),
            "preprocess + predict",
        )
    )

    seven = np.array([7])
    rows.append(
        (
            "Grad-CAM map (our compiled pass)",
            median_ms(lambda: compute_maps(net, x, "gradcam", "conv3", seven), r),
            "one tf.function",
        )
    )

    photo = io.BytesIO()
    rng = np.random.default_rng(0)
    big = Image.fromarray((rng.normal(200, 10, (480, 640))).clip(0, 255).astype(np.uint8))
    big.paste(
        Image.eval(drawn_digit(7, size=400), lambda v: 255 - v).crop((0, 0, 400, 400)), (120, 40)
    )
    big.save(photo, "JPEG", quality=80)
    huge = io.BytesIO()
    big.resize((4000, 3000)).save(huge, "JPEG", quality=80)
    rows.append(("preprocess 280x280 canvas", median_ms(lambda: clf.preprocess(canvas), r), ""))
    rows.append(
        (
            "preprocess 640x480 JPEG photo",
            median_ms(lambda: clf.preprocess(photo.getvalue()), r // 2),
            "decode included",
        )
    )
    rows.append(
        (
            "preprocess 4000x3000 JPEG photo",
            median_ms(lambda: clf.preprocess(huge.getvalue()), 10, 2),
            "decode included",
        )
    )

    out = Lines()
    out(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"model {args.model} ({net.count_params():,} parameters); medians of {r} calls\n"
    )
    out("| single image | median ms | x our path | note |\n| --- | --- | --- | --- |")
    for what, ms, note in rows:
        out(f"| {what} | {ms:.3f} | {ms / ours:.2f} | {note} |")

    out("\n| batch of 64 | median ms | images/s |\n| --- | --- | --- |")
    for what, fn in [
        ("compiled tf.function", lambda: keras_clf.probabilities(batch)),
        ("ONNX Runtime (our path)", lambda: clf.probabilities(batch)),
    ]:
        ms = median_ms(fn, max(r // 4, 20))
        out(f"| {what} | {ms:.2f} | {64 / ms * 1e3:,.0f} |")
    name = "inference" if args.model == "mnist-cnn" else f"inference-{slug(args.model)}"
    write_table(name, out.markdown, command_line("python -m benchmarks.inference", argv))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
