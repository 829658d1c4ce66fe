"""Reading whole numbers digit by digit (`Classifier.read_number`).

    python -m benchmarks.numbers --data-dir ../shared/datasets

Numbers of 2-4 MNIST *test* digits written side by side (`training.renders`):
- apart: random heights, baselines and gaps, none touching;
- touching: 20 % of neighbours touch or overlap by a few pixels;
- canvas / photo: the same numbers on the wide pad and photographed on paper;
- plain: apart, each digit in its writer's own stroke, only scaled (the other rows draw
  each digit again in a random pen width, from a thin pen to a marker);
- pad: the canvas numbers as the Draw page's number pad posts them (an RGBA PNG whose
  alpha is the ink);
and realistic single digits (canvas and photo), which must stay one digit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from benchmarks.scans import wilson
from benchmarks.tables import Lines, command_line, write_table
from model import load_classifier
from model.datasets import load_split, locate
from model.errors import ImageError
from model.number import read_number
from training.renders import (
    SETS,
    make_set,
    number_on_canvas,
    number_on_pad,
    number_photo,
    number_strokes,
)

KINDS = ("apart", "touching", "canvas", "photo", "plain", "pad")  # (seed: --seed + index)


def numbers(images, labels, n: int, kind: str, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 5))
        idx = rng.choice(len(labels), k, replace=False)
        strokes = number_strokes(
            list(images[idx]), rng, 0.2 if kind == "touching" else 0.0, pens=kind != "plain"
        )
        if kind == "canvas":
            item = number_on_canvas(strokes, rng)
        elif kind == "photo":
            item = number_photo(strokes, rng)
        elif kind == "pad":
            item = number_on_pad(strokes, rng)
        else:
            item = strokes
        out.append((item, "".join(str(int(labels[i])) for i in idx)))
    return out


def errors(clf, test, n: int, seed: int, views: bool = True) -> dict[str, int]:
    """The apart numbers sorted by what went wrong: too few or too many digits (the
    segmentation), or a digit misread that the model reads right, or wrong too, as its
    MNIST original (the per-digit reading)."""
    original = np.array([p.label for p in clf.predict_inputs(test.images / np.float32(255))])
    rng = np.random.default_rng(seed)
    found = dict.fromkeys(
        (
            "right",
            "too few digits",
            "too many digits",
            "a digit misread (its MNIST original read right)",
            "a digit misread (its MNIST original misread too)",
            "refused",
        ),
        0,
    )
    for _ in range(n):  # the same numbers as the table's apart row
        k = int(rng.integers(2, 5))
        idx = rng.choice(len(test.labels), k, replace=False)
        truth = "".join(str(int(test.labels[i])) for i in idx)
        try:
            r = read_number(clf, number_strokes(list(test.images[idx]), rng, 0.0), views=views)
        except ImageError:
            found["refused"] += 1
            continue
        read = "".join(d.prediction.class_name if d.prediction else "_" for d in r.digits)
        if read == truth:
            found["right"] += 1
        elif len(read) != len(truth):
            found["too few digits" if len(read) < len(truth) else "too many digits"] += 1
        else:
            bad = [i for i, (a, b) in enumerate(zip(read, truth, strict=True)) if a != b]
            model_too = all(original[idx[i]] != test.labels[idx[i]] for i in bad)
            which = "misread too" if model_too else "read right"
            found[f"a digit misread (its MNIST original {which})"] += 1
    return found


def time_views(clf, test, n: int, seed: int) -> str:
    """Median CPU and wall time of reading 4-digit apart numbers with and without the
    views, the two taken in turn on each number (the same load for both)."""
    rng = np.random.default_rng(seed)
    spent: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(n):
        item = number_strokes(
            list(test.images[rng.choice(len(test.labels), 4, replace=False)]), rng, 0.0
        )
        for views in (False, True):
            cpu, wall = time.process_time(), time.perf_counter()
            read_number(clf, item, views=views)
            spent[views].append((time.process_time() - cpu, time.perf_counter() - wall))
    lines = []
    for views, got in spent.items():
        cpu, wall = (1000 * statistics.median(t[i] for t in got) for i in (0, 1))
        lines.append(f"views {'on ' if views else 'off'}: cpu {cpu:.2f} ms, wall {wall:.2f} ms")
    return "\n".join(lines) + f"\n({n} numbers of 4 digits, load {os.getloadavg()[0]:.1f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.numbers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir")
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=500, help="numbers per kind")
    p.add_argument("--singles", type=int, default=1000, help="realistic single digits")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument(
        "--errors",
        action="store_true",
        help="only say where the apart numbers' errors come from (printed, no table)",
    )
    p.add_argument(
        "--no-views",
        dest="views",
        action="store_false",
        help="read each digit without its other pens (`model.input.views`): the reading "
        "before them, printed, no table",
    )
    p.add_argument(
        "--time-views",
        action="store_true",
        help="only time 4-digit apart numbers read with and without the views, "
        "alternately in one run (printed, no table)",
    )
    args = p.parse_args(argv)
    clf = load_classifier(args.model)
    test = load_split(locate("mnist", args.data_dir), "test")
    if args.errors:
        for kind, count in errors(clf, test, args.n, args.seed, args.views).items():
            print(f"{count:5d}  {kind}")
        return 0
    if args.time_views:
        print(time_views(clf, test, args.n, args.seed))
        return 0
    out = Lines()
    out(
        "| numbers | n | whole number right | per digit right | wrong ones marked unsure "
        "| right ones marked unsure | refused | median ms | median ms, 4 digits |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    )
    for j, kind in enumerate(KINDS):
        right = digits_right = digits_total = wrong = wrong_unsure = right_unsure = refused = 0
        times, four = [], []
        for item, truth in numbers(test.images, test.labels, args.n, kind, args.seed + j):
            t0 = time.perf_counter()
            try:
                r = read_number(clf, item, views=args.views)
            except ImageError:
                refused += 1
                continue
            times.append(time.perf_counter() - t0)
            if len(truth) == 4:
                four.append(times[-1])
            read = "".join(d.prediction.class_name if d.prediction else "_" for d in r.digits)
            if r.text is None:
                refused += 1
            if read == truth:
                right += 1
                right_unsure += r.verdict == "unsure"
            else:
                wrong += 1
                wrong_unsure += r.verdict != "digit"
            if len(read) == len(truth):
                digits_right += sum(a == b for a, b in zip(read, truth, strict=True))
            digits_total += len(truth)
        whole, digit = wilson(right, args.n), wilson(digits_right, digits_total)
        out(
            f"| {kind} | {args.n} | {right / args.n:.1%} ({whole[0]:.1%}–{whole[1]:.1%}) "
            f"| {digits_right / digits_total:.1%} ({digit[0]:.1%}–{digit[1]:.1%}) "
            f"| {wrong_unsure}/{wrong} | {right_unsure}/{right} | {refused} | "
            f"{1000 * statistics.median(times):.1f} | {1000 * statistics.median(four):.1f} |"
        )
    if not args.views:  # (printed line by line: the table is the shipped reading's)
        return 0
    several = total = 0
    for kind in ("canvas", "photo"):
        items, _ = make_set(
            kind, test.images, test.labels, args.singles // 2, args.seed + 100 + SETS[kind]
        )
        for item in items:
            try:
                several += len(clf.read_number(item).digits) > 1
                total += 1
            except ImageError:
                pass
    out(
        "",
        f"Realistic single digits read as several: {several} of {total} "
        f"({several / max(total, 1):.2%}).",
    )
    write_table("numbers", out.markdown, command_line("python -m benchmarks.numbers", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
