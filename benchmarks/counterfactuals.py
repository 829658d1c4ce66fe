"""Are the counterfactuals valid, realistic, close and fast? And their adversarial twins?

    python -m benchmarks.counterfactuals --data-dir DATA_DIR                  # 500 x 3
    python -m benchmarks.counterfactuals --model mnist-mlp --n 100 --output -  # print only

On `--n` MNIST test digits the model reads right, each with `--targets` random other
classes, for every method (the counterfactual and its adversarial twin):

- valid: the model reads the target with p >= P_VALID (what `.succeeded` says);
- judge reads K: an independent classifier (another architecture and seed, trained
  here in a minute, never used by the search) reads the edited input as the target;
- verdict digit: our own verdict (model/judge/verdict.py) on the edited input is `digit`;
- closer than a K: the edit (L2) is smaller than the distance from the input to the
  nearest training digit of the target class;
- median L1 and L2 of the edit, share of pixels changed (by >= CHANGE_FLOOR);
- median and 90th-percentile seconds per call, one call at a time, warm.

Shares are over all attempts (a failed search counts as not valid and is judged on
its closest attempt). The table is printed and written as Markdown for the docs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.tables import write_table
from model.why.counterfactual import adversarial, counterfactual
from model.why.latent_search import CHANGE_FLOOR, LATENT, P_VALID

OUTPUT = Path("docs/benchmarks/generated/counterfactuals.md")


def output_for(model: str) -> Path:
    """The model's table: OUTPUT for mnist-cnn, `counterfactuals-<model>.md` for another
    (a run on another model never overwrites mnist-cnn's)."""
    return OUTPUT if model == "mnist-cnn" else OUTPUT.with_stem(f"{OUTPUT.stem}-{model}")


#: The judge's seed and training: another architecture than every bundled model.
JUDGE_SEED = 2024
JUDGE_EPOCHS = 2
SEED = 0
#: The variants of the latent search compared on the first `--ablation` edits: what each
#: part of the method buys (the last is the shipped default, LATENT).
VARIANTS = {
    "walk, aim p >= 0.999": replace(LATENT, aim=0.999),
    "walk, additive shift x + D(z) - D(z0)": replace(LATENT, edit="shift"),
    "walk + 40 Adam steps": replace(LATENT, steps=40),
    "walk + 40 Adam steps, additive shift": replace(LATENT, steps=40, edit="shift"),
    "walk, ratio floor 0.1": replace(LATENT, ratio_floor=0.1),
    "default: walk to the prototypes, aim p >= 0.95, ratio removal (floor 0.05)": LATENT,
}


@dataclass(frozen=True)
class Row:
    method: str
    n: int
    valid: float
    judge: float
    digit: float
    closer: float
    l1: float
    l2: float
    changed: float
    seconds: float
    seconds_p90: float


def train_judge(x: np.ndarray, y: np.ndarray, epochs: int = JUDGE_EPOCHS):
    """An independent reader: 5x5 convolutions, average pooling, no batch norm, tanh head
    (the bundled models use 3x3 convolutions, max pooling and ReLU). (N, 28, 28, 1) in."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(JUDGE_SEED)
    net = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 5, activation="relu"),
            layers.AveragePooling2D(2),
            layers.Conv2D(32, 5, activation="relu"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="tanh"),
            layers.Dense(10, activation="softmax"),
        ],
        name="judge",
    )
    net.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    return net


def nearest_distances(x: np.ndarray, train: np.ndarray, train_y: np.ndarray, targets) -> np.ndarray:
    """(M,) L2 distance from each input (M, 784) to the nearest training digit of its target."""
    out = np.zeros(len(x), np.float32)
    for t in np.unique(targets):
        rows = np.flatnonzero(targets == t)
        pool = train[train_y == t]  # (P, 784)
        d2 = (x[rows] ** 2).sum(1)[:, None] - 2 * x[rows] @ pool.T + (pool**2).sum(1)[None]
        out[rows] = np.sqrt(np.maximum(d2.min(1), 0))
    return out


def run(
    model: str, n: int, targets: int, data_dir: str | None, seed: int = SEED, ablate: int = 0
) -> tuple[list[Row], list[Row], dict]:
    from model import load_classifier
    from model.datasets import to_model_input
    from training.data import load_dataset

    clf = load_classifier(model)
    data = load_dataset("mnist", data_dir, val_fraction=0.0)
    train_x = to_model_input(data.train.images)  # (60000, 28, 28, 1)
    test_x = to_model_input(data.test.images)[..., 0]  # (10000, 28, 28)
    t0 = time.perf_counter()
    judge = train_judge(train_x, data.train.labels)
    judge_seconds = time.perf_counter() - t0
    judge_acc = float(
        (judge.predict(test_x[..., None], verbose=0).argmax(1) == data.test.labels).mean()
    )

    rng = np.random.default_rng(seed)
    right = np.flatnonzero(clf.probabilities(test_x).argmax(1) == data.test.labels)
    picks = rng.choice(right, n, replace=False)
    pairs = []
    for i in picks:
        others = [c for c in range(10) if c != data.test.labels[i]]
        pairs += [(int(i), int(t)) for t in rng.choice(others, targets, replace=False)]

    # Warm up both compiled searches (tracing is a one-off cost, reported apart).
    t0 = time.perf_counter()
    counterfactual(clf, test_x[pairs[0][0]], pairs[0][1])
    adversarial(clf, test_x[pairs[0][0]], pairs[0][1])
    warmup = time.perf_counter() - t0

    flat_train = train_x.reshape(len(train_x), -1)
    inputs = np.stack([test_x[i] for i, _ in pairs]).reshape(len(pairs), -1)
    target_arr = np.array([t for _, t in pairs])
    nearest = nearest_distances(inputs, flat_train, data.train.labels, target_arr)

    def score(name: str, results: list) -> Row:
        xs = np.stack([r.x for r in results])[..., None]
        judged = judge.predict(xs, verbose=0).argmax(1)
        m = len(results)
        return Row(
            method=name,
            n=m,
            valid=float(np.mean([r.succeeded for r in results])),
            judge=float(np.mean(judged == target_arr[:m])),
            digit=float(np.mean([r.verdict == "digit" for r in results])),
            closer=float(np.mean([r.l2 < d for r, d in zip(results, nearest[:m], strict=True)])),
            l1=float(np.median([r.l1 for r in results])),
            l2=float(np.median([r.l2 for r in results])),
            changed=float(np.median([r.changed for r in results])),
            seconds=float(np.median([r.seconds for r in results])),
            seconds_p90=float(np.percentile([r.seconds for r in results], 90)),
        )

    def attempt(name: str, fn, todo) -> list:
        results = []
        for k, (i, t) in enumerate(todo):
            results.append(fn(clf, test_x[i], t))
            if (k + 1) % 100 == 0:
                print(f"{name}: {k + 1}/{len(todo)}", file=sys.stderr, flush=True)
        return results

    rows = [
        score(name, attempt(name, fn, pairs))
        for name, fn in (
            ("counterfactual (latent shift)", counterfactual),
            ("adversarial twin (PGD)", adversarial),
        )
    ]
    ablation = []
    for name, cfg in VARIANTS.items() if ablate else ():
        run_cf = lambda c, x, t, cfg=cfg: counterfactual(c, x, t, cfg)  # noqa: E731
        run_cf(clf, test_x[pairs[0][0]], pairs[0][1])  # trace this variant first
        ablation.append(score(name, attempt(name, run_cf, pairs[:ablate])))
    meta = {
        "model": model,
        "digits": n,
        "targets": targets,
        "judge_accuracy": judge_acc,
        "judge_seconds": judge_seconds,
        "warmup_seconds": warmup,
        "nearest_l2_median": float(np.median(nearest)),
    }
    return rows, ablation, meta


def table(rows: list[Row]) -> list[str]:
    """The Markdown table of rows."""
    lines = [
        "| method | n | valid | judge reads K | verdict digit | closer than a K | "
        "median L1 | median L2 | pixels changed | median s | p90 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.n} | {pct(r.valid)} | {pct(r.judge)} | {pct(r.digit)} | "
            f"{pct(r.closer)} | {r.l1:.2f} | {r.l2:.2f} | {pct(r.changed)} | "
            f"{r.seconds:.3f} | {r.seconds_p90:.3f} |"
        )
    return lines


def pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def markdown(rows: list[Row], ablation: list[Row], meta: dict, command: str) -> str:
    lines = [
        f"<!-- written by `{command}`; do not edit by hand -->",
        "",
        f"Model `{meta['model']}`, {meta['digits']} MNIST test digits it reads right x "
        f"{meta['targets']} random other targets ({meta['digits'] * meta['targets']} edits "
        f"per method). Valid: read as the target with p >= {P_VALID}. Judge: an independent "
        f"CNN trained by the benchmark ({JUDGE_EPOCHS} epochs, seed {JUDGE_SEED}, test "
        f"accuracy {pct(meta['judge_accuracy'])}). Closer than a K: the edit's L2 is below "
        "the distance to the nearest training digit of the target class (median "
        f"{meta['nearest_l2_median']:.2f}). Changed: pixels moved by >= {CHANGE_FLOOR}. "
        f"Seconds: one call at a time, warm (first call with tracing: "
        f"{meta['warmup_seconds']:.1f} s for both).",
        "",
        *table(rows),
    ]
    if ablation:
        lines += [
            "",
            f"The latent search's parts, on the first {ablation[0].n} of the same edits "
            "(same judge and columns):",
            "",
            *table(ablation),
        ]
    return "\n".join(lines) + "\n"


def neutral(argv: list[str]) -> list[str]:
    """The arguments with machine paths left out: `--data-dir DATA_DIR`, no `--output`."""
    out, args = [], iter(argv)
    for arg in args:
        flag, eq, _ = arg.partition("=")
        if flag in ("--data-dir", "--output"):
            if not eq:
                next(args, None)
            out += ["--data-dir", "DATA_DIR"] if flag == "--data-dir" else []
            continue
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.counterfactuals",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", help="folder with MNIST (default $DIGITLENS_DATA_DIR)")
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=500, help="test digits")
    p.add_argument("--targets", type=int, default=3, help="random other targets per digit")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument(
        "--ablation", type=int, default=300, help="edits the search's variants run on (0: none)"
    )
    p.add_argument(
        "--output",
        help="Markdown file, or - to print only (default: the model's table under "
        "docs/benchmarks/generated, counterfactuals.md for mnist-cnn)",
    )
    a = p.parse_args(argv)
    if a.output is None:
        a.output = str(output_for(a.model))
    command = "python -m benchmarks.counterfactuals " + shlex.join(neutral(argv))
    rows, ablation, meta = run(a.model, a.n, a.targets, a.data_dir, a.seed, a.ablation)
    text = markdown(rows, ablation, meta, command)
    print(text)
    if a.output != "-":
        out = Path(a.output)
        write_table(out.stem, text, command, folder=out.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
