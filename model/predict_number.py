"""`python -m model.predict --number`: each image read as a written number.

One line per image ("42", "4?2" with an unsure digit, or why it is not a number), or one
JSON object with `--json` (`NumberReading.to_dict`). With `--explain [METHOD]` each digit's
map and trust are written as `<name>.d<I>.<method>.png/.npy`; with `--counterfactual K
--digit I` the edit of digit I alone (`<name>.d<I>.cf<K>...`, `.adv<K>...`). Both start
from the input the digit was read from (`model.number.digit_stages`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.input.sources import (
    STDIN,
    VIDEO_SUFFIXES,
    Item,
    Unread,
    collect,
    in_order,
    stdin_image,
)
from model.predict_options import DEFAULT_EXPLAIN, load_model
from model.writers import edit_line, map_line, stem, write_counterfactual, write_explanation


def run_numbers(args: argparse.Namespace) -> int:
    """--number: each image read as a number; one line (or JSON object) per image. With
    --explain each digit's map (`<name>.d<I>.<method>.png/.npy`), with --counterfactual K
    the edit of digit --digit I (`<name>.d<I>.cf<K>...`), both from that digit alone."""
    from model.errors import DigitLensError, ImageError, NoSuchDigitError
    from model.number import digit_stages

    clf = load_model(args)
    if not clf.reads_digits:  # (wrong for every input: said once, exit 2, as other misuses)
        raise DigitLensError(f"--number: {clf.name} does not read digits: it cannot read a number")
    method = None if args.explain == DEFAULT_EXPLAIN else args.explain
    if args.explain:
        from model.why.attribution import check

        check(clf, method, args.layer)
    files, errors, names = collect(args.inputs)
    failed = 0

    def fail(path: Path, message: str) -> None:
        """An input not read: stdout's JSON names every input too, in their order."""
        nonlocal failed
        failed += 1
        if args.json:
            print(json.dumps({"path": str(path), "error": message}))
        print(f"{path}: {message}", file=sys.stderr)

    for path in in_order(files, errors):
        if isinstance(path, Unread):
            fail(path.path, path.message)
            continue
        name = stem(Item(path, path), names)
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                raise ImageError("--number reads images, not videos (without it: each frame)")
            image = stdin_image() if path == STDIN else path
            reading = clf.read_number(image)
        except ImageError as exc:
            fail(path, str(exc))
            continue
        edits, missing = {}, None
        if args.counterfactual is not None:
            try:
                stages = digit_stages(clf, reading, args.digit)
                name_i = f"{name}.d{args.digit}"
                edits = write_counterfactual(clf, name_i, stages, args.counterfactual, args.out)
            except NoSuchDigitError as exc:  # the number is still read and said
                failed, missing = failed + 1, str(exc)
                print(f"{path}: {exc}", file=sys.stderr)
        record = {"path": str(path), **reading.to_dict()}
        if missing:
            record["error"] = missing
        for i, d in enumerate(record["digits"]):
            if args.explain and reading.digits[i].prediction is not None:
                stages = digit_stages(clf, reading, i)
                d["explanation"] = write_explanation(  # of the digit's answer, as /v1/read
                    clf,
                    Item(path, path),
                    f"{name}.d{i}",
                    stages,
                    method,
                    args.layer,
                    args.out,
                    target=reading.digits[i].prediction.label,
                )
        if edits:
            record["digits"][args.digit].update(edits)
        # A mark that could not be read at all fails the image, as `predict` fails an
        # image too small to read (exit 1); a mark read as not a digit is an answer.
        if reading.text is None and any(d.prediction is None for d in reading.digits):
            failed += 1
        if args.json:
            print(json.dumps(record))
            continue
        if reading.text is None:
            print(f"{path}: not a number: {reading.refusal}")
        else:
            unsure = " (? marks a digit it is unsure of)" if reading.verdict == "unsure" else ""
            print(f"{path}: {reading.text}{unsure}")
        for i, d in enumerate(record["digits"]):  # each digit's map, as a single digit's
            if said := map_line(d.get("explanation")):
                print(f"  digit {i} {said}")
        for edit in edits.values():
            print(f"  digit {args.digit}, {edit_line(edit)}")
    return 1 if failed else 0
