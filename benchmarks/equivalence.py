"""Nothing lost to the fast path: every realistic and out-of-distribution report set read
by the fast path and by the path it replaced, in one process.

    python -m benchmarks.equivalence [--n 300]

The old path: Pillow decodes every PNG (`model.input.png` declines all, and no PNG's
luminance and alpha are read off its planes: `decode_small_png`), the classifier
and the detector are two session calls (no fused graph), loops are counted with scipy's
labelling on every input, the OOD score is computed on arrays for every input and the
verdict ranks the classes before any rule, one input going through the batch code
(`array_scores`, `ranked_verdict`, `batch_prediction_of_one`), the
preprocessing's box (searched for again after the specks: `boxless`), padding, centre of
mass and border median are numpy's and scipy's general functions again (`numpy_bbox`,
`np.pad`, `ndimage.center_of_mass`, `np.median`),
the noise rule counts a concatenated copy of the differences again
(`concatenated_noise`) on every input, however dark (`too_dark_for_noise`), and every
map is resized by Pillow (`pillow_resize`).
The fast path answers single inputs on LiteRT (`--single`, where `<name>.tflite` exists;
`runtime="auto"` chooses it where it measures faster), the old path on ONNX Runtime.
The canvas set is also sent as a browser sends it (RGBA PNG bytes with Chromium's
filter), opaque and as alpha ink on a transparent field (the Draw page's pad), so the PNG
fast path is on the line. For each set: how many inputs changed
label, verdict, reason or refusal (must be 0), and the largest change of the OOD score.
"""

from __future__ import annotations

import argparse
import sys
from unittest import mock

import numpy as np

from benchmarks.tables import Lines, command_line, write_table
from model.prediction import format_probability


def scipy_loops(x: np.ndarray) -> int:
    """The loop count as it was (scipy.ndimage.label), for the old path."""
    from scipy import ndimage

    from model.judge.verdict import LOOP_INK, LOOP_MIN_AREA

    ink = np.asarray(x, np.float32).reshape(28, 28) > LOOP_INK
    pockets, n = ndimage.label(~ink)
    if n <= 1:
        return 0
    edge = np.unique(np.concatenate([pockets[0], pockets[-1], pockets[:, 0], pockets[:, -1]]))
    sizes = np.bincount(pockets.ravel(), minlength=n + 1)
    sizes[edge] = 0
    sizes[0] = 0
    return int((sizes >= LOOP_MIN_AREA).sum())


def numpy_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The ink's box as it was found before OpenCV's boundingRect, for the old path."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def concatenated_noise(gray: np.ndarray) -> bool:
    """The noise rule as it was counted (all differences joined first), for the old path."""
    from model.input.refusals import NOISE_TEXTURE, _neighbour_differences

    d = _neighbour_differences(gray)
    return 2 * int(np.count_nonzero(d > NOISE_TEXTURE)) > d.size


def array_scores(judge, x, probs, detector=None) -> np.ndarray:
    """`Judge.scores` as it was: every input through the array code, probabilities
    converted to float64 whole, loops counted by scipy (`scipy_loops`), for the old path."""
    from model.judge.verdict import LOOP_PENALTY, MAX_DIGIT_LOOPS

    p = np.asarray(probs, np.float64).reshape(len(probs), -1)
    posthoc = (-np.log(np.clip(p.max(axis=1), 1e-12, 1.0))).astype(np.float32)
    if judge.detector is not None and x is not None and judge.card is not None:
        logodds = judge.detector.scores(x) if detector is None else detector
        score = np.asarray(logodds, np.float32) + judge.card.softmax_weight * posthoc
        x = np.asarray(x, np.float32).reshape(-1, 28, 28)
        loops = [LOOP_PENALTY if scipy_loops(a) > MAX_DIGIT_LOOPS else 0.0 for a in x]
        return (score.astype(np.float32) + np.array(loops, np.float32)).astype(np.float32)
    return posthoc


def batch_prediction_of_one(clf, probs: np.ndarray, x: np.ndarray, detector=None):
    """`Classifier._prediction_of_one` as it was: one input through the batch code."""
    return clf._predictions_of(probs, x, detector)[0]


def ranked_verdict(judge, score: float, probs: np.ndarray, detector_score: bool, p_max=None):
    """`Judge.verdict` as it was: the classes ranked before any rule, for the old path
    (p_max, which the fast path passes, unused)."""
    unsure, reject, p_unsure = judge.thresholds(detector_score)
    order = np.argsort(-probs, kind="stable")  # (ties as the verdict ranks them now)
    first, second = judge.class_names[order[0]], judge.class_names[order[1]]
    top, runner_up = float(probs[order[0]]), float(probs[order[1]])
    if score >= reject:
        if detector_score:
            return "not_a_digit", (
                f"This does not look like {judge.thing}: more like a letter, a shape, "
                "a scribble or a picture."
            )
        return "not_a_digit", (
            f"The model finds no class that fits: this may not be {judge.thing} at all "
            f"(its best guess, {first}, has only {format_probability(top, 0)})."
        )
    if detector_score and score >= unsure:
        return "unsure", (
            f"This looks unusual for {judge.thing}; if it is one, it is most like {first}."
        )
    if score >= unsure or top < p_unsure:
        return "unsure", (
            f"It could be {first} or {second}: the model cannot tell them apart "
            f"({format_probability(top, 0)} against {format_probability(runner_up, 0)})."
        )
    return "digit", None


def boxless(kept_ink):
    """`preprocessing.kept_ink` giving no box: the box searched for again, as it was."""
    return lambda ink: (kept_ink(ink)[0], None)


def alpha_ink(grey: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> (h, w, 4): its brightness as the opacity of white ink on a
    transparent field, as the Draw page's pad holds strokes (benchmarks.canvas)."""
    out = np.zeros((*grey.shape, 4), np.uint8)
    out[..., :3] = np.where(grey[..., None] > 0, 255, 0)
    out[..., 3] = grey
    return out


def read_all(clf, items: list) -> list[tuple]:
    """(label, verdict, reason, ood_score) or (error type, message) for each input."""
    from model.errors import ImageError

    out: list[tuple] = []
    for item in items:
        try:
            p = clf.predict(item)
            out.append((p.label, p.verdict, p.reason, p.ood_score))
        except ImageError as exc:
            out.append((type(exc).__name__, str(exc)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.equivalence", description=__doc__)
    p.add_argument("--n", type=int, default=300, help="inputs per set")
    p.add_argument("--data-dir", help="folder with the data sets (default $DIGITLENS_DATA_DIR)")
    p.add_argument(
        "--single",
        choices=["litert", "onnxruntime", "auto"],
        default="litert",
        help="who answers single inputs on the fast path (default litert, where its file "
        "exists: the runtime `auto` may choose on a quiet machine; auto: as measured now)",
    )
    args = p.parse_args(argv)

    from scipy import ndimage

    from benchmarks.ood import NEGATIVE_SETS, SEED
    from model import load_classifier
    from model.classifier import Classifier
    from model.datasets import load_split, locate
    from model.input import preprocessing
    from model.input.png import encode_up
    from model.input.resample import pillow_resize
    from model.judge.verdict import Judge
    from training.negatives import negatives
    from training.renders import SETS, fonts_available, make_set

    new = load_classifier("mnist-cnn")
    old = load_classifier("mnist-cnn")
    old.fused = False  # two session calls, as before the fused graph
    if new.fused and args.single != "auto" and new.runtime.single_ms:
        new.runtime.answer_single_with(args.single)
    test = load_split(locate("mnist", args.data_dir), "test")
    sets: dict[str, list] = {}
    for kind in SETS:
        if kind == "font" and not fonts_available():
            continue
        items, _ = make_set(kind, test.images, test.labels, args.n, SEED + SETS[kind])
        sets[kind] = items
        if kind == "canvas":
            sets["canvas, as Chromium's PNG bytes"] = [
                encode_up(np.asarray(i.convert("RGBA"))) for i in items
            ]
            sets["canvas, alpha ink as the Draw page's pad sends it"] = [
                encode_up(alpha_ink(np.asarray(i.convert("L")))) for i in items
            ]
    for kind in NEGATIVE_SETS:
        sets[kind] = negatives(kind, args.n, "report", SEED, args.data_dir)

    out = Lines()
    out(
        f"model mnist-cnn; fused graph: {new.fused}; single inputs on "
        f"{getattr(new.runtime, 'single', new.runtime.name)}; {args.n} inputs per set\n"
    )
    out("| set | inputs | changed (label, verdict, reason or refusal) | max OOD score change |")
    out("| --- | --- | --- | --- |")
    changed_total = 0
    for name, items in sets.items():
        fast = read_all(new, items)
        with (
            mock.patch("model.input.decode.decode_png", lambda data, cap: None),
            mock.patch("model.input.preprocessing.decode_small_png", lambda *args: None),
            mock.patch("model.judge.verdict.count_loops", scipy_loops),
            mock.patch.object(Judge, "scores", array_scores),
            mock.patch.object(Judge, "verdict", ranked_verdict),
            mock.patch.object(Classifier, "_prediction_of_one", batch_prediction_of_one),
            mock.patch("model.input.preprocessing._bbox", numpy_bbox),
            mock.patch.object(preprocessing, "kept_ink", boxless(preprocessing.kept_ink)),
            mock.patch("model.input.preprocessing._padded", np.pad),
            mock.patch("model.input.preprocessing._centre_of_mass", ndimage.center_of_mass),
            mock.patch("model.input.lighting.median", lambda a: float(np.median(a))),
            mock.patch("model.input.refusals.looks_like_noise", concatenated_noise),
            mock.patch("model.input.refusals.too_dark_for_noise", lambda gray: False),
            mock.patch("model.input.lighting.resize", pillow_resize),  # every map
        ):
            before = read_all(old, items)
        changed = sum(a[:3] != b[:3] for a, b in zip(fast, before, strict=True))
        pairs = zip(fast, before, strict=True)
        scores = [abs(a[3] - b[3]) for a, b in pairs if len(a) == len(b) == 4]
        changed_total += changed
        out(f"| {name} | {len(items)} | {changed} | {max(scores, default=0.0):.1e} |")
    write_table("equivalence", out.markdown, command_line("python -m benchmarks.equivalence", argv))
    return 1 if changed_total else 0


if __name__ == "__main__":
    sys.exit(main())
