"""The options of `python -m model.predict` (`python -m digitlens predict`), parsed and
checked together for single digits, videos and numbers (`model.predict_number`), and the
model they name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.input.sources import DEFAULT_FPS
from model.why.index import MAX_K
from model.writers import output_folder_problem

#: The program named in --help and in errors (`python -m digitlens` passes its own).
PROG = "python -m model.predict"

#: `--explain` without a method: the model's measured default (its card).
DEFAULT_EXPLAIN = "default"


def load_model(args: argparse.Namespace):
    """The classifier the command line names (any family; see `load_classifier`)."""
    from model import load_classifier

    weights = "imagenet" if args.weights is None else args.weights
    clf = load_classifier(
        args.model, runtime=args.runtime, preprocessing=args.preprocessing, weights=weights
    )
    if clf.input_note and not args.quiet:  # (how its input was fitted: said once)
        print(f"{clf.name}: {clf.input_note}", file=sys.stderr)
    if clf.judge.lent_note and not args.quiet:  # (its "not a digit" is not its own model's)
        print(f"{clf.name}: {clf.judge.lent_note}", file=sys.stderr)
    return clf


def parse_args(
    argv: list[str] | None = None, prog: str = PROG, description: str | None = None
) -> argparse.Namespace:
    """The options, checked together: a combination that cannot run exits 2 with a message."""
    from model.classifier import PREPROCESSINGS
    from model.prediction import TOP_K
    from model.runtime.runtimes import RUNTIMES
    from model.why.attribution import METHODS

    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", help="image files, folders and videos; - reads an image piped in"
    )
    p.add_argument(
        "--model",
        default="mnist-cnn",
        help="bundled name, Keras Applications name (resnet50, mobilenet_v2, ...) or .keras file",
    )
    p.add_argument(
        "--preprocessing",
        choices=PREPROCESSINGS,
        help="input scaling (or digit recipe) instead of the one the model's card states",
    )
    p.add_argument("--weights", help="Keras Applications: a local ImageNet weights file")
    p.add_argument("--top-k", type=int, help=f"classes in top_k (default {TOP_K})")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="auto: float ONNX where exported, else Keras; onnx-int8/onnx-fp16: quantized",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--explain",
        nargs="?",
        const=DEFAULT_EXPLAIN,
        choices=[DEFAULT_EXPLAIN, *METHODS],
        metavar="METHOD",
        help="also write heatmaps, with their trust score (needs --out); without METHOD the "
        f"model's measured default; one of: {', '.join(METHODS)}",
    )
    p.add_argument(
        "--choose-default-on",
        type=Path,
        metavar="FOLDER",
        help="a model without a measured default map: choose it by the trust score on the "
        "images in FOLDER (default: on the first inputs it explains)",
    )
    p.add_argument(
        "--layer",
        help="layer for class-activation methods (default: the model's own, conv3 for the "
        "bundled CNNs, else its last spatial layer)",
    )
    p.add_argument("--target", type=int, help="class to explain (default: the prediction)")
    p.add_argument("--contrast", type=int, help="explain 'target and not this class'")
    p.add_argument(
        "--counterfactual",
        type=int,
        metavar="K",
        help="also write the smallest realistic edit read as class K and its adversarial "
        "twin (needs --out)",
    )
    p.add_argument("--out", type=Path, help="folder for overlays (.png) and maps (.npy)")
    p.add_argument(
        "--neighbours",
        type=int,
        metavar="K",
        help="also give the K nearest training examples in the model's representation "
        f"(their training-set positions and labels) and how many share the answer; K <= {MAX_K}",
    )
    p.add_argument("--fps", type=float, help=f"video frames per second (default {DEFAULT_FPS:g})")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--number",
        action="store_true",
        help="read each image as a written number, digit by digit (e.g. 42, 2026); with "
        "--explain each digit's map, with --counterfactual K --digit I the edit of one digit",
    )
    p.add_argument(
        "--digit",
        type=int,
        metavar="I",
        help="with --number --counterfactual K: the digit to edit (0: the leftmost)",
    )
    args = p.parse_args(argv)
    if args.digit is not None and not (args.number and args.counterfactual is not None):
        p.error("--digit goes with --number and --counterfactual")
    if args.number and args.counterfactual is not None and args.digit is None:
        p.error("--number --counterfactual K needs --digit I: the digit to edit (0: leftmost)")
    if args.number and (args.target is not None or args.contrast is not None):
        p.error(
            "--target and --contrast explain one digit: each digit of a number is "
            "explained for its own answer"
        )
    single = {
        "--neighbours": args.neighbours is not None,
        "--choose-default-on": args.choose_default_on is not None,
        "--top-k": args.top_k is not None,
        "--fps": args.fps is not None,
    }
    if args.number and any(single.values()):
        given = ", ".join(k for k, v in single.items() if v)
        p.error(f"{given}: for single digits (and videos), not with --number")
    if args.explain and not args.out:
        p.error("--explain needs --out DIR")
    if args.counterfactual is not None and not args.out:
        p.error("--counterfactual needs --out DIR")
    if (args.target is not None or args.contrast is not None) and not args.explain:
        p.error("--target and --contrast go with --explain")
    args.top_k = TOP_K if args.top_k is None else args.top_k  # (given or not: said above)
    args.fps = DEFAULT_FPS if args.fps is None else args.fps
    if args.top_k < 1:
        p.error("--top-k must be at least 1")
    if args.neighbours is not None and not 1 <= args.neighbours <= MAX_K:
        p.error(f"--neighbours must be from 1 to {MAX_K}")
    if args.fps <= 0:
        p.error("--fps must be positive")
    if args.out is not None and (args.explain or args.counterfactual is not None):
        # (before any work: a file of that name crashed the run after its first answer)
        problem = output_folder_problem(args.out)
        if problem:
            p.error(f"--out {args.out}: {problem}")
    return args
