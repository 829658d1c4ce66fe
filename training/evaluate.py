"""Evaluate a model on its test set and write the metrics into its card.

`python -m training.evaluate --model mnist-cnn` (a bundled name or a `.keras`
path). Training runs this at its end; run it alone after changing a model.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from model.runtime.artifacts import resolve
from model.runtime.card import Card, Metrics, read_card, write_card

ECE_BINS = 15


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = 10) -> np.ndarray:
    """(n, n) int counts; rows are true classes, columns predictions."""
    return np.bincount(y_true.astype(int) * n + y_pred.astype(int), minlength=n * n).reshape(n, n)


def reliability(probs: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per-bin confidence, accuracy and count, for a reliability diagram."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "lo": round(float(edges[b]), 4),
                    "hi": round(float(edges[b + 1]), 4),
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return out


def expected_calibration_error(
    probs: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    n = len(y_true)
    return float(
        sum(
            b["count"] / n * abs(b["accuracy"] - b["confidence"])
            for b in reliability(probs, y_true, bins)
        )
    )


def classification_metrics(probs: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class precision/recall, confusion matrix, ECE and the misclassified indices."""
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, probs.shape[1])
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "test_samples": int(len(y_true)),
        "per_class": {
            "precision": [round(float(v), 5) for v in precision],
            "recall": [round(float(v), 5) for v in recall],
            "support": [int(v) for v in cm.sum(axis=1)],
        },
        "confusion_matrix": cm.tolist(),
        "ece": round(expected_calibration_error(probs, y_true), 5),
        "reliability": reliability(probs, y_true),
        "misclassified": [int(i) for i in np.flatnonzero(y_pred != y_true)],
    }


def plot_curves(history: dict[str, list[float]], path: Path, title: str) -> Path | None:
    """Loss and accuracy per epoch (train and validation) as a PNG."""
    if not history.get("loss"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[key], label="train (augmented)")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def evaluate_and_write_card(keras_path: str | os.PathLike, data_dir: str | None = None) -> Card:
    """Evaluate the model at `keras_path` on its card's test set and update the card."""
    from model.datasets import CLASS_NAMES, load_split, locate, to_model_input
    from model.runtime.artifacts import load_keras_model

    keras_path = Path(keras_path)
    card = read_card(keras_path)
    dataset = card.dataset_or_default
    test = load_split(locate(dataset, data_dir), "test")
    net = load_keras_model(keras_path)
    probs = net.predict(to_model_input(test.images), batch_size=1000, verbose=0)

    name = card.name or keras_path.stem
    curves = plot_curves(card.history, keras_path.with_suffix(".curves.png"), f"{name} training")
    card = card.updated(
        name=name,
        dataset=dataset,
        class_names=card.class_names if card.class_names is not None else CLASS_NAMES[dataset],
        parameters=int(net.count_params()),
        size_bytes=keras_path.stat().st_size,
        metrics=Metrics.from_dict(classification_metrics(probs, test.labels)),
        versions=library_versions(),
        curves=curves.name if curves else card.curves,
    )
    write_card(keras_path, card)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__)
    p.add_argument("--model", default="mnist-cnn", help="bundled name or path to a .keras file")
    p.add_argument("--data-dir", help="folder with the IDX .gz files (or $DIGITLENS_DATA_DIR)")
    args = p.parse_args(argv)
    from model.datasets import DatasetError

    try:
        card = evaluate_and_write_card(resolve(args.model).keras_path, args.data_dir)
    except (DatasetError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = card.metrics
    print(
        f"{card.name}: accuracy {m.accuracy:.4f}, ECE {m.ece:.4f}, "
        f"{len(m.misclassified)} misclassified of {m.test_samples}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
