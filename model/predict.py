"""Apply a model to images, folders (recursively) and videos.

    python -m model.predict digit.png scans/ clip.mp4 --model mnist-cnn --json
    python -m model.predict scans/ --explain gradcam --out heatmaps/
    python -m model.predict nine.png --json --out heatmaps/ --explain --contrast 4
    python -m model.predict photo.jpg --model resnet50 --top-k 5 --explain --out maps/
    python -m model.predict photo.jpg --model my_rgb.keras --preprocessing=-1-1
    python -m model.predict seven.png --counterfactual 1 --out edits/
    python -m model.predict age.png --number --explain --out maps/
    python -m model.predict age.png --number --counterfactual 9 --digit 0 --out edits/

`--counterfactual K` writes, per input, the smallest realistic edit read as K and its
adversarial twin (`model.why.counterfactual`): the edited input (`.npy`), the edit over the
strokes (`.png`: added blue, removed orange) and the twin's change magnified.

`--explain` without a method uses the model's measured default; `--contrast C`
maps the evidence for the prediction (or `--target`) against class C. With
`--json`, each explanation carries its trust score and the card's sanity check.

One line per input (one JSON object with `--json`: path, label, probability,
probabilities, verdict, ood_score, reason, top_k (the `--top-k` most probable classes,
default 5), and frame for videos; in plain text, models with more than 10 classes also
print their top-k).

`--model` takes a bundled model, a Keras Applications name (mobilenet_v2, resnet50,
efficientnet_b0, any keras.applications model; ImageNet weights from the Keras cache,
`--weights PATH` or a download) or a `.keras` file; `--preprocessing` overrides the
input scaling its card states. An input that cannot be read gets a line on stderr and,
with `--json`, a JSON object with an `error` field on stdout too; a video cut short says
so the same way. An input whose map cannot be made (`--contrast` naming the class it is
read as) keeps its line, with `"explanation": {"error": ...}`. The exit code is 1 if any
input failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from model.input.sources import (
    DEFAULT_FPS,
    VIDEO_SUFFIXES,
    CutShort,
    Item,
    collect,
    stated_samples,
    video_error,
    video_frames,
)
from model.judge.verdict import VERDICT_WORDS
from model.number import several_digits
from model.writers import map_line, stem, top_line, write_counterfactual, write_explanation

BATCH = 64
#: `--explain` without a method: the model's measured default (its card).
DEFAULT_EXPLAIN = "default"


def load_model(args: argparse.Namespace):
    """The classifier the command line names (any family; see `load_classifier`)."""
    from model import load_classifier

    weights = "imagenet" if args.weights is None else args.weights
    return load_classifier(
        args.model, runtime=args.runtime, preprocessing=args.preprocessing, weights=weights
    )


def run(args: argparse.Namespace) -> int:
    if args.number:
        from model.predict_number import run_numbers

        return run_numbers(args)
    from tqdm import tqdm

    from model.errors import BlankImageError, ExplanationError, ImageError
    from model.prediction import format_probability
    from model.why.attribution import check, check_classes

    clf = load_model(args)
    method = None if args.explain == DEFAULT_EXPLAIN else args.explain
    if args.choose_default_on is not None:
        from model.why.choice import choose_on_folder

        try:
            chosen = choose_on_folder(clf, args.choose_default_on)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"default map: {chosen.method} ({chosen.reason})", file=sys.stderr)
    if args.explain:  # (wrong for every input: said once, exit 2, before any is read)
        check(clf, method, args.layer)
        check_classes(clf, args.target, args.contrast)
    if args.neighbours:
        from model.why.neighbours import load_index, neighbours_of

        load_index(clf)  # no index: say so (EvidenceError) before reading any input
    files, errors, names = collect(args.inputs)
    failed = 0

    def fail(path: Path | str, message: str, frame: int | None = None) -> None:
        """One failed input: a line on stderr and, with --json, a JSON line on stdout too
        (so a program reading stdout sees every input). Lines go through tqdm.write so
        they never break a progress bar.
        """
        nonlocal failed
        failed += 1
        if args.json:
            record: dict = {"path": str(path)}
            if frame is not None:
                record["frame"] = frame
            tqdm.write(json.dumps({**record, "error": message}), file=sys.stdout)
            sys.stdout.flush()
        tqdm.write(f"{path}: {message}", file=sys.stderr)

    for e in errors:
        path, _, message = e.partition(": ")
        fail(path, message)

    def items(path: Path) -> Iterator[Item]:
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            yield Item(path, path)
            return
        expected = stated_samples(path, args.fps)  # (what a file cut short falls below)
        read = 0
        frames = tqdm(  # (shown after half a second: a file that fails at once leaves no bar)
            video_frames(path, args.fps),
            total=expected,
            desc=path.name,
            unit="frame",
            disable=args.quiet,
            leave=False,
            file=sys.stderr,
            delay=0.5,
        )
        try:
            for i, t, rgb in frames:
                read += 1
                yield Item(path, rgb, i, round(t, 3))
        except Exception as exc:  # PyAV raises its own error types
            frames.close()
            if read == 0:
                yield Item(path, exc)
            else:
                why = video_error(exc)
                yield Item(path, CutShort(f"the video was cut short after {read} frames ({why})"))
            return
        if expected is not None and read < expected - 1:  # decoding stopped early, silently
            yield Item(
                path,
                CutShort(
                    f"the video was cut short: {read} of the {expected} frames expected at "
                    f"{args.fps:g} fps could be read; the results above cover only those"
                ),
            )

    batch: list[tuple[Item, object]] = []  # (item, its stages, or None for a blank frame)
    unmapped: list[Item] = []  # answered, but its map could not be made

    def flush() -> None:
        """Predict the waiting inputs in one call; print every result in input order."""
        ready = [s for _, s in batch if s is not None]
        x = np.stack([s.x for s in ready]) if ready else np.zeros((0, 28, 28), np.float32)
        preds = iter(clf.to_predictions(clf.probabilities(x), x) if ready else [])
        for item, stages in batch:
            record: dict = {"path": str(item.path)}
            if item.frame is not None:
                record.update(frame=item.frame, time_s=item.time_s)
            if stages is None:  # a blank video frame: said in text too (it was left out)
                blank = (
                    json.dumps({**record, "label": None, "blank": True})
                    if args.json
                    else f"{item.path} frame {item.frame} ({item.time_s:.2f}s): blank"
                )
                tqdm.write(blank, file=sys.stdout)
                continue
            pred = next(preds)
            if pred.verdict != "digit" and item.frame is None and clf.reads_digits:
                pred = several_digits(clf, item.image, pred)  # "this looks like 3 digits"
            record.update(pred.to_dict())
            record["top_k"] = [t.to_dict() for t in clf.top(pred, args.top_k)]
            if args.explain:
                try:
                    record["explanation"] = write_explanation(
                        clf,
                        item,
                        stem(item, names),
                        stages,
                        method,
                        args.layer,
                        args.out,
                        args.target,
                        args.contrast,
                    )
                except ExplanationError as exc:  # this input's map only (--contrast: its class)
                    record["explanation"] = {"error": str(exc)}
                    unmapped.append(item)
                    tqdm.write(f"{item.path}: no map: {exc}", file=sys.stderr)
            nb = neighbours_of(clf, stages.x, args.neighbours) if args.neighbours else None
            if nb is not None:
                record["neighbours"] = nb.to_dict()
            if args.counterfactual is not None:
                edits = write_counterfactual(
                    clf, stem(item, names), stages, args.counterfactual, args.out
                )
                record.update(edits)
            if args.json:
                tqdm.write(json.dumps(record), file=sys.stdout)
            else:
                where = "" if item.frame is None else f" frame {item.frame} ({item.time_s:.2f}s)"
                answer = f"{pred.class_name} ({format_probability(pred.probability)})"
                if pred.verdict != "digit":
                    said = VERDICT_WORDS[clf.reads_digits][pred.verdict]
                    answer = f"{said}: {pred.reason} [{answer}]"
                tqdm.write(f"{item.path}{where}: {answer}", file=sys.stdout)
                top = top_line(clf, pred, args.top_k)
                if top:
                    tqdm.write(top.rstrip("\n"), file=sys.stdout)
                if nb is not None:
                    alike = ", ".join(f"#{n.index} ({n.label})" for n in nb)
                    tqdm.write(f"  {nb.summary}: training {alike}", file=sys.stdout)
                if mapped := map_line(record.get("explanation")):  # where it went, how trusted
                    tqdm.write(f"  {mapped}", file=sys.stdout)
                for edit in (record.get("counterfactual"), record.get("adversarial")):
                    if edit is not None:
                        tqdm.write(f"  {edit['kind']}: {edit['message']}", file=sys.stdout)
        sys.stdout.flush()
        batch.clear()

    progress = tqdm(
        files, desc="inputs", unit="file", disable=args.quiet or len(files) < 2, file=sys.stderr
    )
    for item in (item for path in progress for item in items(path)):
        if isinstance(item.image, CutShort):
            if batch:
                flush()  # the frames that were read come first
            fail(item.path, str(item.image))
            continue
        if isinstance(item.image, Exception):
            fail(item.path, f"cannot read the video ({video_error(item.image)})")
            continue
        try:
            batch.append((item, clf.preprocess_stages(item.image)))
        except BlankImageError as exc:
            if item.frame is None:  # a blank frame in a video is normal, a blank file is not
                fail(item.path, str(exc))
            else:
                batch.append((item, None))
            continue
        except ImageError as exc:
            fail(item.path, str(exc), item.frame)
            continue
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return 1 if failed or unmapped else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from model.classifier import PREPROCESSINGS
    from model.prediction import TOP_K
    from model.runtime.runtimes import RUNTIMES
    from model.why.attribution import METHODS

    p = argparse.ArgumentParser(
        prog="python -m model.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", help="image files, folders and videos")
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
    p.add_argument("--layer", help="layer for class-activation methods (default conv3)")
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
        "(their training-set positions and labels) and how many share the answer",
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
    if args.neighbours is not None and args.neighbours < 1:
        p.error("--neighbours must be at least 1")
    if args.fps <= 0:
        p.error("--fps must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from model.errors import DigitLensError

    try:
        return run(args)
    except DigitLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped (`| head`): stop too, without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python's advice)
        return 1


if __name__ == "__main__":
    from model.runtime.backend import quiet_tensorflow

    quiet_tensorflow()  # if an explanation loads TensorFlow: errors only, no banner
    sys.exit(main())
