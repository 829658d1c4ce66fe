"""How the explanations behave on real test digits: where the heat lies, how the two
branches differ, and how faithful each method is.

    python -m benchmarks.explanations --data-dir ../shared/datasets --n 200
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def pearson_mean(a: np.ndarray, b: np.ndarray) -> float:
    rs = [
        np.corrcoef(p.ravel(), q.ravel())[0, 1]
        for p, q in zip(a, b, strict=True)
        if p.std() > 0 and q.std() > 0
    ]
    return float(np.mean(rs)) if rs else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.explanations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir")
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=200, help="test images (Grad-CAM statistics)")
    p.add_argument("--n-methods", type=int, default=30, help="test images per method (slow)")
    args = p.parse_args(argv)

    from model import load_classifier
    from model.explain import METHODS, FusedGradCAM, available_methods, explain
    from model.faithfulness import faithfulness
    from training.data import load_split, locate, to_model_input

    clf = load_classifier(args.model)
    test = load_split(locate(clf.card.get("dataset", "mnist"), args.data_dir), "test")
    x = to_model_input(test.images[: args.n])[..., 0]
    ink = x > 0.3

    if clf.conv_layers:
        maps = {layer: FusedGradCAM(clf.net, layer)(x)[1] for layer in clf.conv_layers}
        print(
            f"Grad-CAM on {args.n} {clf.card.get('dataset')} test images ({args.model}); "
            f"ink covers {ink.mean():.0%} of an image\n"
        )
        print("| layer | median share of the heat on ink pixels |\n| --- | --- |")
        for layer, m in maps.items():
            share = [(mm * i).sum() / max(mm.sum(), 1e-9) for mm, i in zip(m, ink, strict=True)]
            print(f"| {layer} | {np.median(share):.0%} |")
        if {"conv3_1", "conv3_2"} <= set(maps):
            print(
                f"\nmean Pearson r between the branches' maps (conv3_1 vs conv3_2): "
                f"{pearson_mean(maps['conv3_1'], maps['conv3_2']):.2f}; conv3 vs conv3_1: "
                f"{pearson_mean(maps['conv3'], maps['conv3_1']):.2f}, vs conv3_2: "
                f"{pearson_mean(maps['conv3'], maps['conv3_2']):.2f}"
            )

    k = args.n_methods
    print(
        f"\nFaithfulness on {k} test images (insertion - deletion AUC relative to random "
        "pixel orders; > 0 beats random), and time per explanation\n"
    )
    print("| method | layer | mean score | beats random | median ms |")
    print("| --- | --- | --- | --- | --- |")
    for method in available_methods(clf):
        layer = "conv3" if METHODS[method].needs_conv else None
        scores, times = [], []
        for xi in x[:k]:
            t = time.perf_counter()
            e = explain(clf, xi, method, layer)
            times.append((time.perf_counter() - t) * 1e3)
            scores.append(faithfulness(clf.probabilities, e.x, e.heatmap, e.label).score)
        print(
            f"| {method} | {layer or '-'} | {np.mean(scores):+.3f} | "
            f"{np.mean(np.array(scores) > 0):.0%} | {np.median(times):.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
