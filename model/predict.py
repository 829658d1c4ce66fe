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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.input.sources import (
    STDIN,
    VIDEO_SUFFIXES,
    CutShort,
    Item,
    Unread,
    collect,
    in_order,
    stated_samples,
    stdin_image,
    video_error,
    video_frames,
)
from model.judge.verdict import VERDICT_WORDS
from model.number import READ_AS_NUMBER, several_digits
from model.predict_options import DEFAULT_EXPLAIN, PROG, load_model, parse_args
from model.writers import (
    edit_line,
    map_line,
    stem,
    top_line,
    write_counterfactual,
    write_explanation,
)

BATCH = 64


@dataclass(frozen=True)
class Failed:
    """An input that could not be answered, waiting in the batch to be said in its place."""

    message: str


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
        """One failed input, said in its place: after the inputs before it, which may
        still wait in the batch (it then waits with them)."""
        nonlocal failed
        failed += 1
        if any(not isinstance(s, Failed) and s is not None for _, s in batch):
            batch.append((Item(Path(path), None, frame), Failed(message)))
            if len(batch) >= BATCH:  # (a run of failures waits a batch at most)
                flush()
        else:  # (nothing waits for the model: what waits is said now, then this)
            flush()
            say_failed(path, message, frame)

    def say_failed(path: Path | str, message: str, frame: int | None) -> None:
        """A failed input's line on stderr and, with --json, a JSON line on stdout too
        (so a program reading stdout sees every input). Lines go through tqdm.write so
        they never break a progress bar.
        """
        if args.json:
            record: dict = {"path": str(path)}
            if frame is not None:
                record["frame"] = frame
            tqdm.write(json.dumps({**record, "error": message}), file=sys.stdout)
            sys.stdout.flush()
        tqdm.write(f"{path}: {message}", file=sys.stderr)

    def items(path: Path) -> Iterator[Item]:
        if path == STDIN:
            try:
                yield Item(path, stdin_image())
            except ImageError as exc:
                yield Item(path, exc)
            return
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

    batch: list[tuple[Item, object]] = []  # (item, its stages, None for a blank frame,
    # or Failed: an input that failed after the ones waiting, said after their answers)
    unmapped: list[Item] = []  # answered, but its map could not be made

    def flush() -> None:
        """Predict the waiting inputs in one call; print every result in input order."""
        ready = [s for _, s in batch if s is not None and not isinstance(s, Failed)]
        x = np.stack([s.x for s in ready]) if ready else np.zeros((0, 28, 28), np.float32)
        preds = iter(clf.to_predictions(clf.probabilities(x), x) if ready else [])
        for item, stages in batch:
            if isinstance(stages, Failed):
                say_failed(item.path, stages.message, item.frame)
                continue
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
                # "this looks like 3 digits: read it as a number (--number)"
                pred = several_digits(clf, item.image, pred, how=READ_AS_NUMBER["cli"])
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
                        tqdm.write(f"  {edit_line(edit)}", file=sys.stdout)
        sys.stdout.flush()
        batch.clear()

    progress = tqdm(  # (after half a second, as a video's: two quick files draw no bar)
        files,
        desc="inputs",
        unit="file",
        disable=args.quiet or len(files) < 2,
        file=sys.stderr,
        delay=0.5,
    )
    for path in in_order(progress, errors):
        if isinstance(path, Unread):
            fail(path.path, path.message)
            continue
        for item in items(path):
            if isinstance(item.image, CutShort):  # (after the frames that were read)
                fail(item.path, str(item.image))
                continue
            if isinstance(item.image, ImageError):  # (standard input with nothing piped)
                fail(item.path, str(item.image))
                continue
            if isinstance(item.image, Exception):
                fail(item.path, f"cannot read the video ({video_error(item.image)})")
                continue
            try:
                batch.append((item, clf.preprocess_stages(item.image)))
            except BlankImageError as exc:
                if item.frame is None:  # a blank frame in a video is normal, a blank file not
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


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = parse_args(argv, prog, __doc__)
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
