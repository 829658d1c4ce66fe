"""Latency and throughput of every prediction path, measured in one run.

    python -m benchmarks.inference [--model mnist-cnn] [--repeats 200]

Prints a markdown table of medians and ratios against the raw ONNX Runtime call on the
same input. Each call is timed twice: wall clock, and the CPU time of the calling thread
(`time.thread_time`, which the other processes of a shared machine barely move; the
ratios use it). The canvas is what a browser posts: the RGBA PNG bytes of
`benchmarks.canvas`, from the bytes to the answer and its verdict.
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
from functools import partial
from unittest import mock

import numpy as np

from benchmarks.inference_goals import AFTER, UNTIMED, goals
from benchmarks.tables import Lines, command_line, slug, write_table


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    return timings_ms(fn, repeats, warmup)[0]


def timings_ms(
    fn: Callable[[], object],
    repeats: int,
    warmup: int = 5,
    before: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """(median wall ms, median CPU ms of this thread) over `repeats` calls; `before`, where
    given, runs before each call, untimed (what a front end does between two calls)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def litert_runner(net, threads: int = 1) -> Callable[[np.ndarray], np.ndarray] | None:
    """LiteRT float32 interpreter for `net` (classifier only), if ai-edge-litert is
    installed. One thread is what ONNX Runtime's single-input session uses; with more, the
    CPU column (the calling thread's time) misses the other threads' work."""
    try:
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(converter.convert())
    interp = Interpreter(model_path=f.name, num_threads=threads)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

    def run(x):
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(out)

    return run


def folded_session(path) -> Callable | None:
    """The classifier's ONNX file with its batch norms folded, as the fused graph holds it
    (`model.runtime.fused.folded`), one thread; None where it is kept unfolded."""
    import onnx

    from model.runtime.fused import folded
    from model.runtime.runtimes import _session

    original = onnx.load(str(path))
    model = folded(original)
    if model is original:
        return None
    session = _session(model.SerializeToString(), 1)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=__doc__)
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)

    from PIL import Image

    from benchmarks.canvas import canvas_png
    from model import load_classifier
    from model.input.samples import drawn_digit
    from model.runtime import litert
    from model.runtime.artifacts import resolve
    from model.runtime.litert import load_pair
    from model.why.attribution import METHODS, compute_maps, passes_for
    from model.why.passes import CHUNK

    # runtime=auto measures LiteRT against ONNX Runtime afresh (not a choice remembered
    # from another time, when the machine may have been busier or quieter than now).
    litert.choice_path(resolve(args.model).keras_path).unlink(missing_ok=True)
    clf = load_classifier(args.model)
    keras_clf = load_classifier(args.model, runtime="keras")
    net = clf.net
    canvas = canvas_png(7)  # RGBA PNG bytes, as a browser posts them
    x28 = clf.preprocess(canvas)
    x = x28.reshape(1, 28, 28, 1)
    batch = np.repeat(x, 64, axis=0)
    r = args.repeats
    fused = clf.fused  # builds the fused classifier+detector graph now, not in the timing

    rows: list[tuple[str, tuple[float, float], str]] = []  # (what, (wall, cpu) ms, note)
    rows.append(
        (
            "`model.predict(x)` (naive)",
            timings_ms(lambda: net.predict(x, verbose=0), max(r // 10, 10)),
            "Keras",
        )
    )
    rows.append(("`model(x)` eager", timings_ms(lambda: net(x), r // 2), "Keras"))
    rows.append(
        (
            "compiled `tf.function` (fallback path)",
            timings_ms(lambda: keras_clf.predict_input(x28), r),
            "Keras",
        )
    )
    raw = timings_ms(lambda: clf.runtime(x), r)  # (timed again at the end: the lower holds)
    raw_row = len(rows)  # (its row, filled in at the end)
    rows.append(("ONNX Runtime, raw session call", raw, "classifier only"))
    path = getattr(clf.runtime, "path", None)  # (a Keras runtime has no ONNX file)
    folded = folded_session(path) if path is not None and fused else None
    if folded is not None:
        rows.append(
            (
                "ONNX Runtime, raw session call, batch norms folded",
                timings_ms(lambda: folded(x), r),
                "classifier only, as the fused graph holds it (model.runtime.norm_fold)",
            )
        )
    lite = litert_runner(net)
    if lite:
        rows.append(
            (
                "LiteRT float32, raw interpreter call",
                timings_ms(lambda: lite(x), r),
                "classifier only, 1 thread",
            )
        )
    lite2 = litert_runner(net, threads=2)
    if lite2:
        rows.append(
            (
                "LiteRT float32, raw interpreter call, 2 threads",
                timings_ms(lambda: lite2(x), r),
                "CPU column: the calling thread only",
            )
        )
    detector = clf.judge.detector
    if detector is not None:
        rows.append(
            (
                "classifier + detector, two raw session calls",
                timings_ms(lambda: (clf.runtime(x), detector.scores(x)), r),
                "before the fusion",
            )
        )
    if fused:  # (where LiteRT answers one input, the graph is timed all the same)
        with clf.runtime.answering_single_with("onnxruntime"):
            rows.append(
                (
                    "classifier + detector, one fused session call",
                    timings_ms(lambda: clf.runtime.predict_and_detect(x), r),
                    "model.runtime.fused",
                )
            )
    pair = load_pair(clf.artifact.keras_path, detector.path) if detector is not None else None
    if pair is not None:
        rows.append(
            (
                "classifier + detector, one LiteRT call",
                timings_ms(lambda: pair(x), r),
                "model.runtime.litert, 1 thread",
            )
        )
    single = getattr(clf.runtime, "single", clf.runtime.name)
    chosen = ", ".join(f"{k} {v:.3f}" for k, v in getattr(clf.runtime, "single_ms", {}).items())
    rows.append(
        (
            "**our path** `clf.predict_input(x28)`",
            timings_ms(lambda: clf.predict_input(x28), r),
            f"{single}{' fused' if fused else ''} + verdict"
            + (
                f" (auto chose it at load, each call with a canvas's preprocessing: {chosen} ms)"
                if chosen
                else ""
            ),
        )
    )
    from benchmarks.equivalence import array_scores, batch_prediction_of_one, ranked_verdict
    from model.classifier import Classifier
    from model.judge.verdict import Judge

    with (
        mock.patch.object(Judge, "scores", array_scores),
        mock.patch.object(Judge, "verdict", ranked_verdict),
        mock.patch.object(Classifier, "_prediction_of_one", batch_prediction_of_one),
    ):
        rows.append(
            (
                "our path with the verdict code of round 2",
                timings_ms(lambda: clf.predict_input(x28), r),
                "benchmarks.equivalence: array_scores, ranked_verdict, batch_prediction_of_one",
            )
        )
    rows.append(
        (
            "**canvas PNG bytes end to end** `clf.predict(png)`",
            timings_ms(lambda: clf.predict(canvas), r),
            "decode + preprocess + predict + verdict",
        )
    )
    rows.append(("preprocess the canvas PNG", timings_ms(lambda: clf.preprocess(canvas), r), ""))
    work = partial(clf.preprocess, canvas)
    if fused:
        with clf.runtime.answering_single_with("onnxruntime"):
            call = partial(clf.runtime.predict_and_detect, x)
            name = "classifier + detector, one fused session call"
            rows.append((name + AFTER, timings_ms(call, r, before=work), UNTIMED))
    if pair is not None:
        name = "classifier + detector, one LiteRT call"
        rows.append((name + AFTER, timings_ms(partial(pair, x), r, before=work), UNTIMED))
    rows.append(
        (
            f"our path `clf.predict_input(x28)`{AFTER}",
            timings_ms(partial(clf.predict_input, x28), r, before=work),
            UNTIMED,
        )
    )
    other = {"litert": "onnxruntime", "onnxruntime": "litert"}.get(single)
    if pair is not None and other is not None:  # the choice's other side, on both workloads
        with clf.runtime.answering_single_with(other):
            for what, fn in (("canvas end to end", lambda: clf.predict(canvas)),
                             ("our path", lambda: clf.predict_input(x28))):  # fmt: skip
                rows.append((f"{what}, {other} answering instead", timings_ms(fn, r), "not chosen"))

    seven = np.array([7])
    rows.append(
        (
            "Grad-CAM map (our compiled pass)",
            timings_ms(lambda: compute_maps(net, x, "gradcam", "conv3", seven), r),
            "its pass exported to ONNX (model.why.onnx_passes), else one tf.function",
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
    rows.append(
        (
            "preprocess 640x480 JPEG photo",
            timings_ms(lambda: clf.preprocess(photo.getvalue()), r // 2),
            "decode included",
        )
    )
    rows.append(
        (
            "preprocess 4000x3000 JPEG photo",
            timings_ms(lambda: clf.preprocess(huge.getvalue()), 10, 2),
            "decode included",
        )
    )
    # Every ratio divides by the raw call: timed again last, its lower CPU median is kept,
    # so one disturbed row can only make the ratios larger (a shared machine's neighbours).
    raw = min(raw, timings_ms(lambda: clf.runtime(x), r), key=lambda t: t[1])
    rows[raw_row] = (
        "ONNX Runtime, raw session call",
        raw,
        "classifier only; timed first and last, the lower CPU median kept",
    )

    out = Lines()
    out(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"model {args.model} ({net.count_params():,} parameters); medians of {r} calls; "
        "ratios on CPU time\n"
    )
    out(
        "| single image | median ms (wall) | median CPU ms | x raw ONNX Runtime | note |\n"
        "| --- | --- | --- | --- | --- |"
    )
    for what, (wall, cpu), note in rows:
        out(f"| {what} | {wall:.3f} | {cpu:.3f} | {cpu / raw[1]:.2f} | {note} |")
    goals(out, {what: cpu for what, (_, cpu), _ in rows})

    # Every map of the registry on the same drawing, against ONNX Runtime's forward pass:
    # as the product computes it (the passes exported to ONNX where they serve, else the
    # traced tf.function), and on the tf.function alone.
    keras_forward = next(t for what, t, _ in rows if what.startswith("compiled"))
    out(
        "\n| map (one image) | median ms (wall) | x ONNX Runtime forward (wall) | pass "
        "| tf.function pass alone, ms | x tf.function forward | cost |\n"
        "| --- | --- | --- | --- | --- | --- | --- |"
    )
    target = np.array([7])
    passes = passes_for(net)
    exported = passes.exported
    for name, method in METHODS.items():
        layer = "conv3" if method.needs_conv else None
        times = []
        for engine in (exported, None):
            passes.exported = engine
            times.append(
                timings_ms(
                    lambda n=name, la=layer: compute_maps(net, x, n, la, target),
                    max(r // 4, 20),
                    3,
                )[0]
            )
        passes.exported = exported
        n = method.params.get("samples") or method.params.get("steps") or 1
        used = exported is not None and exported.serves(layer, min(n, CHUNK))
        out(
            f"| {method.title} | {times[0]:.3f} | {times[0] / raw[0]:.2f} "
            f"| {'ONNX Runtime' if used else 'tf.function'} | {times[1]:.3f} "
            f"| {times[1] / keras_forward[0]:.2f} | {method.cost} |"
        )

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
