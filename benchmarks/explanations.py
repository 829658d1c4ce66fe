"""Which explanation maps to believe, measured on real test digits.

For every method x layer: the trust score (zero deletion relative to the ink map,
its Sobel edges and random; mean with a 95 % interval), the share of digits where
the map beats the ink map, the median number of pixels removed until the decision
flips, the share of all-zero maps, the sanity check stored in the card
(`python -m model.why.sanity`) and the time per map. Our deletion curves are checked
against Quantus' PixelFlipping on the same maps. With `--write-card`, the default
method and layer (passes the sanity check, non-empty for >= 99 % of inputs, beats
the ink map for most digits, best trust score) go into the model's card.

    python -m benchmarks.explanations --model mnist-cnn --n 500 --data-dir DATA_DIR --write-card

Speed: every map of a method x layer is one batched call, and every deletion curve
of a method x layer one more; the references (ink, edges, random) are computed once.
By default the class-activation methods run on conv1, conv2_1 and conv3 only (the
branch layers conv2_2, conv3_1 and conv3_2 behave like their siblings); `--layers all`
runs every public layer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.tables import Lines, command_line, slug, write_table

#: Layers of the reference CNN the class-activation methods are measured on by default.
BENCH_LAYERS = ("conv1", "conv2_1", "conv3")
#: Inputs per call when computing maps (bounds memory for Integrated Gradients' N x 32).
MAP_CHUNK = 128
#: At most this share of all-zero maps for a default ("non-empty for >= 99 % of inputs").
MAX_EMPTY_SHARE = 0.01
#: Digits Quantus re-scores (its PixelFlipping runs one model.predict a step).
QUANTUS_DIGITS = 64
#: Our curve steps per Quantus step.
QUANTUS_STRIDE = 4


@dataclass(frozen=True)
class Row:
    method: str
    layer: str | None
    score: float
    score_ci: float
    auc: float
    auc_ci: float
    beats_ink: float
    flip_median: float  # inf: the median digit does not flip within the curve
    empty: float
    ms_per_map: float
    sanity_pass: bool | None
    sanity_all: float | None
    sanity_ink: float | None

    @property
    def key(self) -> str:
        return self.method if self.layer is None else f"{self.method}@{self.layer}"


def ci95(v: np.ndarray) -> float:
    """Half-width of the normal 95 % interval of the mean."""
    return float(1.96 * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def median_flip(flips: np.ndarray) -> float:
    return float(np.median(np.where(flips < 0, np.inf, flips)))


def fmt_flip(v: float, top: int) -> str:
    return f"> {top}" if not np.isfinite(v) else f"{v:.0f}"


def quantus_check(clf, x, maps: dict[str, np.ndarray], labels, ours: dict[str, np.ndarray]):
    """Quantus PixelFlipping (black baseline, 4 pixels a step) on the same maps.

    Returns {name: (mean |p_quantus - p_ours| over the shared curve points, r of per-digit
    AUCs)}. Quantus wants x channel-last with channel_first=False and the attributions
    channel-first (N, 1, H, W).
    """
    import quantus

    if not hasattr(np, "trapz"):  # gone in NumPy 2.4; Quantus' AUC helper still calls it
        np.trapz = np.trapezoid  # patched here, in the benchmark only
    from model.why.trust import trust_counts

    counts = trust_counts(x.shape[1:3])
    # Quantus flips every pixel, one model.predict a step: 4 of our steps per Quantus step
    # keeps it affordable; the curves are compared where their points coincide.
    step = int(counts[1]) * QUANTUS_STRIDE
    out = {}
    for name, m in maps.items():
        metric = quantus.PixelFlipping(
            features_in_step=step, perturb_baseline="black", disable_warnings=True
        )
        curves = np.asarray(
            metric(
                model=clf.net,
                x_batch=x[..., None],
                y_batch=labels,
                a_batch=m[:, None],
                channel_first=False,
                softmax=True,  # probabilities, as our curves
                batch_size=len(x),
            )
        )  # (N, steps over all pixels)
        o = ours[name][:, QUANTUS_STRIDE::QUANTUS_STRIDE]  # ours after 1, 2, ... Quantus steps
        q = curves[:, : o.shape[1]]
        auc_q = np.trapezoid(q, axis=1)
        auc_o = np.trapezoid(o, axis=1)
        out[name] = (float(np.abs(q - o).mean()), float(np.corrcoef(auc_q, auc_o)[0, 1]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.explanations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", help="folder with the test set (default $DIGITLENS_DATA_DIR)")
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=500, help="test images")
    p.add_argument("--layers", default="bench", help="'bench' (conv1, conv2_1, conv3) or 'all'")
    p.add_argument("--no-quantus", action="store_true", help="skip the Quantus cross-check")
    p.add_argument("--write-card", action="store_true", help="store the default in the card")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)

    from model import load_classifier
    from model.datasets import load_split, locate, to_model_input
    from model.runtime.artifacts import read_card, write_card
    from model.why.attribution import METHODS, available_methods, compute_maps
    from model.why.trust import (
        curve_stats,
        deletion_probabilities,
        reference_maps,
        trust_counts,
        trust_from_curves,
    )

    t_start = time.perf_counter()
    out = Lines()
    clf = load_classifier(args.model)
    test = load_split(locate(clf.card.dataset_or_default, args.data_dir), "test")
    x = to_model_input(test.images[: args.n])[..., 0]  # (N, 28, 28)
    n = len(x)
    labels = clf.probabilities(x).argmax(axis=1)
    counts = trust_counts(x.shape[1:])
    top = int(counts[-1])
    sanity = clf.card.sanity_methods

    refs = reference_maps(x)  # (N, 4, H, W): ink, edges, random, random
    ref_probs = deletion_probabilities(clf.probabilities, x, refs)
    ref_auc, ref_flip = curve_stats(ref_probs, labels, counts)
    out(
        f"{args.model}: {n} test images, zero deletion of the first {top} pixels "
        f"({len(counts) - 1} steps of {counts[1]})\n"
    )
    out("| reference | deletion AUC (95 % CI) | median pixels to flip |\n| --- | --- | --- |")
    for i, name in enumerate(("ink (the input itself)", "Sobel edges of the input")):
        out(
            f"| {name} | {ref_auc[:, i].mean():.3f} ± {ci95(ref_auc[:, i]):.3f} | "
            f"{fmt_flip(median_flip(ref_flip[:, i]), top)} |"
        )
    rnd = ref_auc[:, 2:].mean(1)
    out(
        f"| random order | {rnd.mean():.3f} ± {ci95(rnd):.3f} | "
        f"{fmt_flip(median_flip(ref_flip[:, 2]), top)} |\n"
    )

    layers_all = clf.conv_layers
    cam_layers = (
        layers_all if args.layers == "all" else tuple(ly for ly in BENCH_LAYERS if ly in layers_all)
    )
    configs = [
        (m, ly)
        for m in available_methods(clf)
        for ly in (cam_layers if METHODS[m].needs_conv else (None,))
    ]
    rows: list[Row] = []
    curves_for_quantus: dict[str, np.ndarray] = {}
    maps_for_quantus: dict[str, np.ndarray] = {}
    for method, layer in configs:
        compute_maps(clf.net, x[:2], method, layer, labels[:2])  # trace once, outside the timing
        t = time.perf_counter()
        maps = np.concatenate(
            [
                compute_maps(
                    clf.net, x[i : i + MAP_CHUNK], method, layer, labels[i : i + MAP_CHUNK]
                )
                for i in range(0, n, MAP_CHUNK)
            ]
        )
        ms = (time.perf_counter() - t) * 1e3 / n
        probs = deletion_probabilities(clf.probabilities, x, maps[:, None])  # (N, 1, S, K)
        stacked = np.concatenate([probs, ref_probs], axis=1)
        empty = maps.reshape(n, -1).max(1) <= 0
        trusts = trust_from_curves(stacked, labels, counts, empty)
        auc, flips = curve_stats(probs, labels, counts)
        score = np.array([tr.score for tr in trusts])
        key = method if layer is None else f"{method}@{layer}"
        s = sanity.get(key, {})
        rows.append(
            Row(
                method,
                layer,
                float(score.mean()),
                ci95(score),
                float(auc[:, 0].mean()),
                ci95(auc[:, 0]),
                float((auc[:, 0] < ref_auc[:, 0]).mean()),
                median_flip(flips[:, 0]),
                float(empty.mean()),
                ms,
                s.get("pass"),
                s.get("rank_r_all"),
                s.get("rank_r_ink"),
            )
        )
        if key in ("integrated_gradients", "gradcam@conv3"):
            p_cls = np.take_along_axis(probs[:, 0], labels[:, None, None], axis=-1)[..., 0]
            curves_for_quantus[key] = p_cls[:QUANTUS_DIGITS]
            maps_for_quantus[key] = maps[:QUANTUS_DIGITS]
        print(f"  measured {key} ({ms:.1f} ms/map)", file=sys.stderr, flush=True)

    header = (
        "| method | layer | trust score (95 % CI) | deletion AUC | beats the ink map | "
        "median pixels to flip | all-zero maps | sanity r all / ink | sanity | ms per map |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    out(header)
    per_method: dict[str, list[str]] = {}  # the rows of each method, for its own docs page
    for r in sorted(rows, key=lambda r: -r.score):
        san = (
            f"{r.sanity_all:+.2f} / {r.sanity_ink:+.2f}" if r.sanity_all is not None else "not run"
        )
        verdict = "—" if r.sanity_pass is None else ("pass" if r.sanity_pass else "**fail**")
        line = (
            f"| {r.method} | {r.layer or '—'} | {r.score:+.3f} ± {r.score_ci:.3f} | "
            f"{r.auc:.3f} ± {r.auc_ci:.3f} | {r.beats_ink:.0%} | {fmt_flip(r.flip_median, top)} | "
            f"{r.empty:.1%} | {san} | {verdict} | {r.ms_per_map:.1f} |"
        )
        out(line)
        per_method.setdefault(r.method, []).append(line)

    eligible = (
        [r for r in rows if r.sanity_pass and r.empty <= MAX_EMPTY_SHARE and r.beats_ink > 0.5]
        or [r for r in rows if r.sanity_pass]
        or rows
    )
    best = max(eligible, key=lambda r: r.score)
    out(
        f"\nDefault: {best.key} (passes the sanity check, non-empty for >= 99 % of inputs, "
        "beats the ink map for most digits, best trust score among those)"
    )

    if not args.no_quantus and curves_for_quantus:
        xq, lq = x[:QUANTUS_DIGITS], labels[:QUANTUS_DIGITS]
        t = time.perf_counter()
        check = quantus_check(clf, xq, maps_for_quantus, lq, curves_for_quantus)
        out(
            f"\nQuantus 0.6.0 PixelFlipping (black baseline, {counts[1] * QUANTUS_STRIDE} pixels "
            "a step, compared at the points both curves have) on the "
            f"same maps, first {len(xq)} digits ({time.perf_counter() - t:.0f} s):\n"
        )
        out("| map | mean abs. difference of the curves | r of per-digit AUC |")
        out("| --- | --- | --- |")
        for k, (diff, r) in check.items():
            out(f"| {k} | {diff:.4f} | {r:.3f} |")

    print(f"\nwall time {time.perf_counter() - t_start:.0f} s", file=sys.stderr)
    command = command_line("python -m benchmarks.explanations", argv)
    write_table(f"explanations-{slug(args.model)}", out.markdown, command)
    ink = f"{ref_auc[:, 0].mean():.3f}, {fmt_flip(median_flip(ref_flip[:, 0]), top)} pixels"
    for method, lines in per_method.items():
        name = slug(method.replace("++", "-plus-plus"))  # gradcam++ is not gradcam
        intro = f"{args.model}, {n} test images; the ink map's deletion AUC and flip: {ink}\n"
        write_table(
            f"explanations-{slug(args.model)}-{name}", "\n".join([intro, header, *lines]), command
        )
    if args.json:
        from dataclasses import asdict

        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1, default=str)
    if args.write_card:
        default = {
            "method": best.method,
            "layer": best.layer,
            "chosen_by": "python -m benchmarks.explanations --write-card: passes the sanity "
            "check, non-empty for >= 99 % of inputs, beats the ink map on zero deletion for "
            "most digits, then the best mean trust score",
            "test_images": n,
            "trust_score": round(best.score, 4),
            "beats_ink_share": round(best.beats_ink, 4),
            "median_pixels_to_flip": None
            if not np.isfinite(best.flip_median)
            else best.flip_median,
            "ink_median_pixels_to_flip": None
            if not np.isfinite(median_flip(ref_flip[:, 0]))
            else median_flip(ref_flip[:, 0]),
            "empty_share": round(best.empty, 4),
        }
        card = read_card(clf.artifact.keras_path).with_explanations("default", default)
        print(f"wrote the default into {write_card(clf.artifact.keras_path, card)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
