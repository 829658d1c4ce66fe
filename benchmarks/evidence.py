"""Look-alikes, the atlas and the layer view against the issue's goals (#19).

    python -m benchmarks.evidence --data-dir DIR [--model mnist-cnn] [--n 1000]

Prints one Markdown table of goals and the measurements behind them, and writes it to
docs/benchmarks/generated/evidence.md (`--out`). Everything is measured on the built files
(`python -m training.evidence`), on inputs none of them was made from: MNIST *test*
digits, and the realistic drawn digits of `benchmarks/realistic.py` (MNIST test digits
redrawn on a canvas, photographed, scanned).

- agreement: the majority label of the 8 nearest training digits equals the model's
  answer, on realistic drawn digits (canvas; photo, tight-marker, lowres beside it);
- kNN accuracy: the majority of the 8 nearest is the true label, on all MNIST test;
- pixels: every look-alike's `.image` equals the MNIST training image at `.index`, read
  from the IDX file itself;
- latency medians on one drawing: look-alikes, placement, the layer view (every layer's
  output plus each spatial layer's feature-map grid);
- atlas: trustworthiness (k = 10, 5,000 points) recomputed from the built map;
  placement: a correctly read test digit lands nearer its own class centre than any other;
- credibility (agree / k) against the verdict's `ood_score`: AUROC for finding the
  model's wrong answers among realistic digits, and for telling digits from letters,
  shapes and scribbles (the `report` half of training/ood.py), each alone and as the
  mean of their ranks (no fitted weight).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.ood import auroc
from benchmarks.tables import command_line, write_table

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "generated" / "evidence.md"
K = 8
SEED = 2026
#: The goals of issue #19.
GOAL_AGREE = 0.97
GOAL_KNN = 0.993
GOAL_QUERY_MS = 20.0
GOAL_PLACE_MS = 20.0
GOAL_LAYERS_MS = 150.0
GOAL_TRUST = 0.90
GOAL_PLACED = 0.95
REALISTIC_SETS = ("canvas", "photo", "tight-marker", "lowres")
NEGATIVES = ("letters", "shapes", "scribbles")


def median_ms(fn, repeat: int) -> float:
    fn()  # warm: traces, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def majority(labels: np.ndarray) -> np.ndarray:
    """(N, k) labels -> (N,) the most common (ties: the nearest's label among the tied)."""
    out = []
    for row in labels:
        counts = np.bincount(row, minlength=10)
        best = np.flatnonzero(counts == counts.max())
        out.append(next(v for v in row if v in best))
    return np.array(out)


def ranks(v: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(v, kind="stable"), kind="stable") / max(len(v) - 1, 1)


def run(model: str, data_dir: str | None, n: int, repeat: int, log) -> list[str]:
    from benchmarks.realistic import SETS, make_set
    from model import load_classifier
    from model.datasets import load_split, locate
    from model.errors import ImageError
    from model.why.atlas import load_atlas, nearest_class, place_input, place_points
    from model.why.cache import EVIDENCE_SUFFIX, evidence_file
    from model.why.layers import activations_of, feature_grid
    from model.why.neighbours import load_index, nearest, neighbours_of

    clf = load_classifier(model)
    folder = locate("mnist", data_dir)
    train, test = load_split(folder, "train"), load_split(folder, "test")
    index = load_index(clf)
    x_test = test.images.astype(np.float32)[..., None] / 255
    y_test = test.labels.astype(np.int64)
    answers = clf.probabilities(x_test).argmax(1)
    rows: list[tuple[str, str, str, str]] = []  # measurement, value, goal, met

    def add(name, value, goal="", met=None):
        rows.append((name, value, goal, "" if met is None else ("yes" if met else "**no**")))
        log(f"  {name}: {value}")

    # kNN on MNIST test
    nn_test, _ = nearest(clf, x_test, K, index)
    knn = float((majority(index.labels[nn_test]) == y_test).mean())
    add(f"kNN-{K} accuracy, MNIST test (n={len(y_test):,})", f"{knn:.2%}",
        f">= {GOAL_KNN:.1%}", knn >= GOAL_KNN)  # fmt: skip
    add("model accuracy, MNIST test", f"{float((answers == y_test).mean()):.2%}")

    # realistic digits: agreement of the look-alikes' majority with the answer
    pixel_rows, pooled = [nn_test.ravel()], {"wrong": [], "cred": [], "ood": []}
    realistic_x = []
    for kind in REALISTIC_SETS:
        m = n if kind == "canvas" else max(n // 3, 50)
        items, labels = make_set(kind, test.images, test.labels, m, SEED + SETS[kind])
        xs, ys = [], []
        for item, y in zip(items, labels, strict=True):
            try:
                xs.append(clf.preprocess(item))
                ys.append(int(y))
            except ImageError:
                continue
        x = np.stack(xs)
        realistic_x.append(x)
        preds = clf.predict_inputs(x)
        ans = np.array([p.label for p in preds])
        nn, _ = nearest(clf, x, K, index)
        pixel_rows.append(nn.ravel())
        agree = float((majority(index.labels[nn]) == ans).mean())
        goal = (f">= {GOAL_AGREE:.0%}", agree >= GOAL_AGREE) if kind == "canvas" else ("", None)
        add(f"majority of {K} look-alikes = answer, {kind} digits (n={len(x)})",
            f"{agree:.1%}", *goal)  # fmt: skip
        pooled["wrong"].append(ans != np.array(ys))
        pooled["cred"].append((index.labels[nn] == ans[:, None]).mean(1))
        pooled["ood"].append(np.array([p.ood_score for p in preds]))

    # pixels: every neighbour seen against the IDX file
    seen = np.unique(np.concatenate(pixel_rows))
    same = bool(np.array_equal(index.images[seen], train.images[seen]))
    same = same and bool(np.array_equal(index.labels[seen], train.labels[seen]))
    add(f"look-alike pixels and labels = MNIST train at .index ({len(seen):,} distinct)",
        "all equal" if same else "MISMATCH", "all equal", same)  # fmt: skip

    # latency on one drawing
    from model.input.samples import drawn_digit

    drawing = drawn_digit(7)
    x7 = clf.preprocess(drawing)
    q = median_ms(lambda: neighbours_of(clf, x7, K), repeat)
    add("look-alikes query, median (model input)", f"{q:.2f} ms",
        f"<= {GOAL_QUERY_MS:.0f} ms", q <= GOAL_QUERY_MS)  # fmt: skip
    add("look-alikes from a 280x280 drawing, median (with preprocessing)",
        f"{median_ms(lambda: clf.neighbours(drawing, K), repeat):.2f} ms")  # fmt: skip
    p_ms = median_ms(lambda: place_input(clf, x7), repeat)
    add("placement on the atlas, median", f"{p_ms:.2f} ms",
        f"<= {GOAL_PLACE_MS:.0f} ms", p_ms <= GOAL_PLACE_MS)  # fmt: skip

    def layer_view():
        acts = activations_of(clf, x7)
        return [feature_grid(o) for o in acts.feature_maps.values()]

    lv = median_ms(layer_view, repeat)
    add("layer view (every layer's output + feature-map grids), median", f"{lv:.2f} ms",
        f"<= {GOAL_LAYERS_MS:.0f} ms", lv <= GOAL_LAYERS_MS)  # fmt: skip

    # atlas
    from sklearn.manifold import trustworthiness

    atlas = load_atlas(clf)
    pts = index.embeddings[atlas.rows]
    sub = np.random.default_rng(0).choice(len(pts), min(5000, len(pts)), replace=False)
    tw = float(trustworthiness(pts[sub], atlas.xy[sub], n_neighbors=10))
    add(f"atlas trustworthiness, k=10 on {len(sub):,} points ({atlas.method})", f"{tw:.4f}",
        f">= {GOAL_TRUST:.2f}", tw >= GOAL_TRUST)  # fmt: skip
    right = np.flatnonzero(answers == y_test)
    xy = place_points(clf, x_test[right])
    landed = float((nearest_class(atlas.centres(), xy) == y_test[right]).mean())
    add(f"correctly read test digits placed nearest their own class centre (n={len(right):,})",
        f"{landed:.2%}", f">= {GOAL_PLACED:.0%}", landed >= GOAL_PLACED)  # fmt: skip

    # credibility against ood_score
    wrong = np.concatenate(pooled["wrong"])
    cred, ood = np.concatenate(pooled["cred"]), np.concatenate(pooled["ood"])
    both = (ranks(ood) + ranks(1 - cred)) / 2
    pos, neg = ~wrong, wrong
    add(f"AUROC, wrong answers among realistic digits (n={len(wrong)}, {wrong.sum()} wrong): "
        "ood_score / 1 - credibility / mean rank",
        f"{auroc(ood[pos], ood[neg]):.3f} / {auroc(1 - cred[pos], 1 - cred[neg]):.3f} / "
        f"{auroc(both[pos], both[neg]):.3f}")  # fmt: skip
    from training.ood import negatives

    for k, kind in enumerate(NEGATIVES):
        items = negatives(kind, max(n // 3, 50), "report", SEED + 1000 + k, data_dir)
        xs = []
        for item in items:
            try:
                xs.append(clf.preprocess(item))
            except ImageError:
                continue
        xn = np.stack(xs)
        preds = clf.predict_inputs(xn)
        ans = np.array([p.label for p in preds])
        nn, _ = nearest(clf, xn, K, index)
        cred_n = (index.labels[nn] == ans[:, None]).mean(1)
        ood_n = np.array([p.ood_score for p in preds])
        all_ood, all_unc = np.concatenate([ood, ood_n]), np.concatenate([1 - cred, 1 - cred_n])
        mixed = (ranks(all_ood) + ranks(all_unc)) / 2
        cut = len(ood)
        add(f"AUROC, realistic digits vs {kind} (n={len(xn)}): "
            "ood_score / 1 - credibility / mean rank",
            f"{auroc(ood, ood_n):.3f} / {auroc(1 - cred, 1 - cred_n):.3f} / "
            f"{auroc(mixed[:cut], mixed[cut:]):.3f}")  # fmt: skip

    info_path = evidence_file(clf.artifact.keras_path, EVIDENCE_SUFFIX)
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    tried = info.get("atlas", {}).get("trustworthiness_k10_5000", {})
    for method, t in tried.items():
        add(f"atlas method tried by training.evidence: {method}",
            f"trustworthiness {t['trustworthiness']}, {t['seconds']} s")  # fmt: skip

    lines = [
        f"### {model}",
        "",
        "| measurement | value | goal | met |",
        "| --- | --- | --- | --- |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.evidence",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", help="folder with MNIST ($DIGITLENS_DATA_DIR)")
    p.add_argument("--model", action="append", help="bundled model(s) (default: mnist-cnn)")
    p.add_argument("--n", type=int, default=1000, help="canvas digits (other sets: n/3)")
    p.add_argument("--repeat", type=int, default=200, help="timed calls per latency")
    p.add_argument("--out", type=Path, default=OUT, help="the Markdown file to write")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    body = []
    for model in args.model or ["mnist-cnn"]:
        print(f"{model} ...", flush=True)
        body += run(model, args.data_dir, args.n, args.repeat, lambda m: print(m, flush=True))
        body.append("")
    command = command_line("python -m benchmarks.evidence", argv)
    text = "\n".join(
        [
            f"Medians of {args.repeat} calls; the run took {time.perf_counter() - t0:.0f} s.",
            "",
            *body,
        ]
    )
    print("\n" + text)
    write_table(args.out.stem, text, command, folder=args.out.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
