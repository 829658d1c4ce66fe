"""Realistic drawn and photographed digits, and how well each preprocessing reads them.

    python -m benchmarks.realistic --data-dir ../shared/datasets --n 1000

The sets come from `training.renders` (independent generators, none used for
training or tuning of the classifier).

Each set is scored with our pipeline and with naive resizing (grayscale,
squash to 28x28), the baseline of many tutorials.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks.tables import Lines, command_line, slug, write_table
from training.renders import SETS, fonts_available, make_set


def score(clf, inputs: list, labels: np.ndarray) -> dict[str, float]:
    """Accuracy of our pipeline and of naive resizing on the same inputs (one batch each)."""
    from model.errors import ImageError
    from model.input.preprocessing import naive_resize

    ours, ok = [], []
    for item in inputs:
        try:
            ours.append(clf.preprocess(item))
            ok.append(True)
        except ImageError:
            ours.append(np.zeros((28, 28), np.float32))  # counted as wrong
            ok.append(False)
    naive = np.stack([naive_resize(item) for item in inputs])
    # Naive resizing keeps the polarity: a black-on-white image stays black on white.
    p_ours = clf.probabilities(np.stack(ours)).argmax(axis=1)
    p_naive = clf.probabilities(naive).argmax(axis=1)
    return {
        "ours": float(((p_ours == labels) & np.array(ok)).mean()),
        "naive": float((p_naive == labels).mean()),
        "rejected_blank": int((~np.array(ok)).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.realistic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", help="folder with the MNIST IDX files")
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=1000, help="inputs per set")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    args = p.parse_args(argv)

    from model import load_classifier
    from model.datasets import load_split, locate, to_model_input

    test = load_split(locate("mnist", args.data_dir), "test")
    clf = load_classifier(args.model)
    mnist_acc = float(
        (clf.probabilities(to_model_input(test.images)).argmax(1) == test.labels).mean()
    )
    out = Lines()
    out(f"model {args.model}; MNIST test set (already in MNIST format): {mnist_acc:.2%}\n")
    out(
        "| set | n | naive resize | DigitLens pipeline | refused (blank or too small) |\n"
        "| --- | --- | --- | --- | --- |"
    )
    kinds = [k for k in args.sets if k != "font" or fonts_available()]
    for kind in kinds:
        inputs, labels = make_set(kind, test.images, test.labels, args.n, args.seed + SETS[kind])
        r = score(clf, inputs, labels)
        out(f"| {kind} | {args.n} | {r['naive']:.1%} | {r['ours']:.1%} | {r['rejected_blank']} |")
    name = "realistic" if args.model == "mnist-cnn" else f"realistic-{slug(args.model)}"
    write_table(name, out.markdown, command_line("python -m benchmarks.realistic", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
