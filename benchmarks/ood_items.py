"""`benchmarks.ood` for a model that reads no digits (fashion-cnn): how well its verdict
tells the model's own kind of image from what people draw or upload that is not one.

    python -m benchmarks.ood --model fashion-cnn --data-dir DIR [--n 300]

Positives are the model's data set's *test* images, fed as an uploaded image is; negatives
are MNIST *test* digits as they are, drawn on the canvas and photographed on paper (the
case that made this: a drawn 7 was "Sandal, 99.5 %"), and the `report` half of
`training.negatives` (fonts, pen faces, shapes, scribbles, noise, seeds and families the
detector never trained on). Columns as in `benchmarks.ood`, where `digit` is the verdict
that answers (for this model: "this is a Fashion-MNIST item").
"""

from __future__ import annotations

import numpy as np

from benchmarks.ood import SEED, evaluate, negative_row, shares
from benchmarks.tables import Lines

#: The positives: this many of the data set's test images.
N_ITEMS = 1000
#: MNIST test digits as they are, and drawn on the canvas / photographed (training.renders).
DIGIT_SETS = ("mnist test", "canvas", "photo")
NEGATIVE_SETS = (
    "letters",
    "letters, other fonts",
    "handwritten letters",
    "shapes",
    "scribbles",
    "scrawls",
    "noise",
    "dot",
    "short stroke",
)


def report(clf, data_dir: str | None, n: int, seed: int = SEED) -> Lines:
    """The report's lines (markdown) for `clf`, whose recipe is not MNIST's."""
    from model.datasets import load_split, locate
    from training.negatives import negatives
    from training.renders import SETS, make_set

    dataset = clf.card.dataset_or_default
    out = Lines()
    test = load_split(locate(dataset, data_dir), "test")
    idx = np.random.default_rng(seed).choice(len(test), size=min(N_ITEMS, len(test)), replace=False)
    r = evaluate(clf, list(test.images[idx]))
    labels = test.labels[idx]
    s = shares(r["verdict"])
    answered = r["verdict"] == "digit"
    right = float((r["label"][answered] == labels[answered]).mean()) if answered.any() else 0.0
    out(f"model {clf.name}; verdict by {clf.judge.method}; positives: {dataset} test images")
    out(
        "\n| its own images | n | accuracy | answered | right when answered | `unsure` "
        "| `not_a_digit` | refused |"
    )
    out("| --- | --- | --- | --- | --- | --- | --- | --- |")
    out(
        f"| {dataset} test | {len(idx)} | {float((r['label'] == labels).mean()):.1%} | "
        f"{s['digit']:.1%} | {right:.1%} | {s['unsure']:.1%} | {s['not_a_digit']:.1%} | "
        f"{s['refused']:.1%} |"
    )
    pos, pos_b = r["score"], r["baseline"]
    cut = float(np.quantile(pos, 0.95))
    out(
        "\n| not its kind | n | AUROC | AUROC max-softmax | FPR at 95 % TPR | answered "
        "| `unsure` | `not_a_digit` | refused |"
    )
    out("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    mnist = load_split(locate("mnist", data_dir), "test")
    for k, kind in enumerate(DIGIT_SETS + NEGATIVE_SETS):
        if kind == "mnist test":
            items = list(mnist.images[np.random.default_rng(seed + 1).choice(len(mnist), n)])
            name = "MNIST test digits, as images"
        elif kind in DIGIT_SETS:
            items, _ = make_set(kind, mnist.images, mnist.labels, n, seed + SETS[kind])
            name = f"digits, {kind}"
        else:
            items, name = negatives(kind, n, "report", seed + 1000 + k, data_dir), kind
        out(negative_row(name, evaluate(clf, items), pos, pos_b, cut))
    return out
