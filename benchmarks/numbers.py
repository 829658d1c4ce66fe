"""Reading whole numbers digit by digit (`Classifier.read_number`).

    python -m benchmarks.numbers --data-dir ../shared/datasets

Numbers of 2-4 MNIST *test* digits written side by side (`training.renders`):
- apart: random heights, baselines and gaps, none touching;
- touching: 20 % of neighbours touch or overlap by a few pixels;
- canvas / photo: the same numbers on the wide pad and photographed on paper;
and realistic single digits (canvas and photo), which must stay one digit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from benchmarks.tables import Lines, command_line, write_table
from model import load_classifier
from model.datasets import load_split, locate
from model.errors import ImageError
from training.renders import SETS, make_set, number_on_canvas, number_photo, number_strokes

KINDS = ("apart", "touching", "canvas", "photo")


def numbers(images, labels, n: int, kind: str, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 5))
        idx = rng.choice(len(labels), k, replace=False)
        strokes = number_strokes(list(images[idx]), rng, 0.2 if kind == "touching" else 0.0)
        if kind == "canvas":
            item = number_on_canvas(strokes, rng)
        elif kind == "photo":
            item = number_photo(strokes, rng)
        else:
            item = strokes
        out.append((item, "".join(str(int(labels[i])) for i in idx)))
    return out


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
    args = p.parse_args(argv)
    clf = load_classifier(args.model)
    test = load_split(locate("mnist", args.data_dir), "test")
    out = Lines()
    out(
        "| numbers | n | whole number right | per digit right | wrong ones marked unsure "
        "| refused | median ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    )
    for j, kind in enumerate(KINDS):
        right = digits_right = digits_total = wrong = wrong_unsure = refused = 0
        times = []
        for item, truth in numbers(test.images, test.labels, args.n, kind, args.seed + j):
            t0 = time.perf_counter()
            try:
                r = clf.read_number(item)
            except ImageError:
                refused += 1
                continue
            times.append(time.perf_counter() - t0)
            read = "".join(d.prediction.class_name if d.prediction else "_" for d in r.digits)
            if r.text is None:
                refused += 1
            if read == truth:
                right += 1
            else:
                wrong += 1
                wrong_unsure += r.verdict != "digit"
            if len(read) == len(truth):
                digits_right += sum(a == b for a, b in zip(read, truth, strict=True))
            digits_total += len(truth)
        out(
            f"| {kind} | {args.n} | {right / args.n:.1%} | {digits_right / digits_total:.1%} "
            f"| {wrong_unsure}/{wrong} | {refused} | "
            f"{1000 * statistics.median(times):.1f} |"
        )
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
