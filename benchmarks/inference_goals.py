"""Issue #22's goal lines under `benchmarks.inference`'s table: each goal's ratio from the
CPU medians of the table's rows, and whether it is met (tests/test_benchmark_goals.py).
"""

from __future__ import annotations

from benchmarks.tables import Lines

#: Issue #22's goals: canvas bytes to answer and verdict (ms, and x the raw ONNX Runtime
#: call), and `predict_input` against the fastest raw call of a runtime.
CANVAS_GOAL_MS, CANVAS_GOAL_X, PREDICT_GOAL_X = 0.5, 4.0, 1.2
#: Said of a row whose calls each follow a canvas's preprocessing (untimed): the cache
#: as a front end leaves it, where the choice of runtime is measured (docs/reference/
#: runtimes.md).
AFTER = " after a canvas's preprocessing"
UNTIMED = "the preprocessing before each call untimed"
#: The single-threaded raw classifier calls (rows of the table).
RAW_SINGLE = (
    "ONNX Runtime, raw session call",
    "ONNX Runtime, raw session call, batch norms folded",
    "LiteRT float32, raw interpreter call",
)


def goals(out: Lines, cpu: dict[str, float]) -> None:
    """The goal ratios, from the CPU medians of one run (single-threaded calls only: a
    2-thread call's CPU column misses its second thread)."""

    raw = cpu["ONNX Runtime, raw session call"]
    ours = next(v for k, v in cpu.items() if "predict_input" in k and AFTER not in k)
    canvas = next(v for k, v in cpu.items() if "canvas PNG bytes" in k)
    same_work = (
        "classifier + detector, one fused session call",
        "classifier + detector, one LiteRT call",
    )
    pairs = [(k, cpu[k]) for k in same_work if k in cpu]
    singles = [(k, cpu[k]) for k in RAW_SINGLE if k in cpu]
    in_use = [(k, cpu[k + AFTER]) for k in same_work if k + AFTER in cpu]
    ours_in_use = next((v for k, v in cpu.items() if "predict_input" in k and AFTER in k), None)

    def mark(ok: bool) -> str:
        return "met" if ok else "not met"

    out(
        "\nThe canvas goal divides by the raw call on the shipped file; the classifier-only "
        "goal by the fastest classifier-only call, the folded graph's where it is faster."
    )
    out("\n| goal (issue #22, CPU medians of this run) | measured | goal | |")
    out("| --- | --- | --- | --- |")
    # The issue set both from its own run (raw call 0.126 ms: 4x is 0.5 ms); on another
    # machine, or with a slower raw call, the ratio is the one that carries over.
    out(
        f"| canvas PNG bytes -> answer + verdict, x the raw call | {canvas / raw:.2f}x raw "
        f"ONNX Runtime ({raw:.3f} ms) | <= {CANVAS_GOAL_X:g}x "
        f"| {mark(canvas / raw <= CANVAS_GOAL_X)} |"
    )
    out(
        f"| canvas PNG bytes -> answer + verdict, absolute | {canvas:.3f} ms "
        f"| <= {CANVAS_GOAL_MS} ms | {mark(canvas <= CANVAS_GOAL_MS)} |"
    )
    for title, group in (
        ("the fastest classifier + detector call (the same work)", pairs),
        ("the fastest classifier-only call (without the detector)", singles),
    ):
        if not group:
            continue
        name, best = min(group, key=lambda kv: kv[1])
        out(
            f"| `predict_input` vs {title}: {name} | {ours / best:.3f}x "
            f"| <= {PREDICT_GOAL_X}x | {mark(ours / best <= PREDICT_GOAL_X)} |"
        )
    if in_use and ours_in_use is not None:  # each call after a canvas's preprocessing
        name, best = min(in_use, key=lambda kv: kv[1])
        out(
            f"| `predict_input` vs the fastest classifier + detector call, each{AFTER}: "
            f"{name} | {ours_in_use / best:.3f}x | <= {PREDICT_GOAL_X}x "
            f"| {mark(ours_in_use / best <= PREDICT_GOAL_X)} |"
        )
