"""Read a written number digit by digit: each digit a full answer with its verdict.

    reading = clf.read_number("age.png")
    reading.text            # "42", "4?2" (the 4 is unsure), or None with .refusal
    reading.digits[0].box   # where the first digit is in the image

Segmentation is `model.input.segment`, with the lighting corrected once, on the whole
number; each piece then goes on from its stretch of that ink map through the per-digit
pipeline, model and judge of a single digit (one batched call for all of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from model.errors import BlankImageError, ImageError, NoSuchDigitError
from model.input.decode import MAX_PIXELS, WORKING_SIDE, ImageInput
from model.input.preprocessing import stages_from_ink
from model.input.segment import Piece, segment
from model.input.views import pen_views
from model.prediction import Prediction, format_probability

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.input.preprocessing import Preprocessed
    from model.why.report import Report

#: How an unsure digit is marked in `.text` (after the digit: "4?2").
UNSURE_MARK = "?"
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


@dataclass(frozen=True)
class Digit:
    """One digit of a number: where it is and what the model reads there."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the original image's pixels
    x: np.ndarray  # (28, 28) the model input made from this digit alone
    prediction: Prediction | None  # None: the piece could not be read (`error` says why)
    touching: bool  # cut out of ink shared with a neighbour
    error: str | None = None
    #: (h, w) float32: this digit alone as the image shows it, or how to make it (`ink`)
    picture: np.ndarray | Callable[[], np.ndarray] | None = None
    #: The stages it was read from (`piece_stages`; a number of one digit: the single-digit
    #: path's, `_as_single`): where its map and its counterfactual start
    stages: Preprocessed | None = None

    @cached_property
    def ink(self) -> np.ndarray | None:
        """This digit alone as the image shows it (`picture`, made on first use)."""
        return self.picture() if callable(self.picture) else self.picture

    def to_dict(self) -> dict:
        return {
            "box": list(self.box),
            "touching": self.touching,
            "error": self.error,
            **({} if self.prediction is None else self.prediction.to_dict()),
        }


@dataclass(frozen=True)
class NumberReading:
    digits: list[Digit]  # left to right
    text: str | None  # the number, an unsure digit followed by "?"; None when refused
    refusal: str | None  # why there is no number, in words
    seconds: float

    @property
    def several(self) -> bool:
        """More than one digit was found (a one-digit image reads better as a digit)."""
        return len(self.digits) > 1

    @property
    def verdict(self) -> str:
        """`digit` when every digit is one, `unsure` when any is unsure, else `not_a_digit`."""
        if self.refusal:
            return "not_a_digit"
        return "unsure" if UNSURE_MARK in (self.text or "") else "digit"

    @property
    def reason(self) -> str | None:
        """Why the number is not a plain answer, in words: the refusal, or for an unsure
        number which of its digits are unsure and why; None for a plain number."""
        if self.refusal:
            return self.refusal
        unsure = [
            (k, d.prediction)
            for k, d in enumerate(self.digits, 1)
            if d.prediction is not None and d.prediction.verdict == "unsure"
        ]
        if not unsure:
            return None
        said = [
            f"digit {k} of {len(self.digits)}, "
            + (p.reason or "")[:1].lower()
            + (p.reason or "")[1:]
            for k, p in unsure
        ]
        return "Unsure of " + "; ".join(said)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "verdict": self.verdict,
            "refusal": self.refusal,
            "digits": [d.to_dict() for d in self.digits],
            "seconds": round(self.seconds, 4),
        }


def ordinal(i: int) -> str:
    """The place of digit i (0: the leftmost) in words: "first", ..., then "#9"."""
    return ORDINALS[i] if i < len(ORDINALS) else f"#{i + 1}"


def _text(digits: list[Digit]) -> tuple[str | None, str | None]:
    """The number and, where there is none, why not."""
    for i, d in enumerate(digits):
        if d.prediction is None:
            return None, f"the {ordinal(i)} mark cannot be read as a digit ({d.error})"
        if d.prediction.verdict == "not_a_digit":
            return None, f"the {ordinal(i)} mark does not look like a digit"
    text = "".join(
        d.prediction.class_name + (UNSURE_MARK if d.prediction.verdict == "unsure" else "")
        for d in digits
        if d.prediction is not None
    )
    return text, None


#: A wide stretch of ink is read as several digits only when its pieces are answered
#: more confidently than the whole, by at least this much (see `_confidence`).
SPLIT_MARGIN = 0.05


#: A cut chosen (or refused) by less than this (`_confidence`, past `SPLIT_MARGIN`) is a
#: close call: its digits are marked unsure. Touching numbers of the tuning seeds (11,
#: 13; not the table's), 125 wrong of 1,000: 42 % of the wrong ones were unsure before, 55 %
#: with this; 6 of the 875 right ones newly unsure.
CLOSE_CALL = 0.1
#: A digit the model reads at under this probability is unsure even where the judge says
#: `digit` (with CLOSE_CALL: 61 % of those wrong numbers unsure, 11 of 875 right ones newly).
WEAK = 0.7


def _doubt(digit: Digit, why: str) -> Digit:
    """The digit marked unsure, its reason saying why (a judged `unsure` keeps its own)."""
    p = digit.prediction
    if p is None or p.verdict != "digit":
        return digit
    return replace(digit, prediction=replace(p, verdict="unsure", reason=why))


def _weak(digit: Digit) -> Digit:
    p = digit.prediction
    if p is None or p.probability >= WEAK:
        return digit
    return _doubt(
        digit,
        f"read as {p.class_name} with probability {format_probability(p.probability, 0)} only",
    )


def mark_doubts(digits: list[Digit], doubts: dict[int, str]) -> list[Digit]:
    """A number's doubtful digits marked unsure: those of a close call between cuts
    (`doubts`: digit -> why) and those read weakly (`WEAK`). A lone digit keeps its
    single-digit verdict."""
    if len(digits) < 2:
        return digits
    return [_doubt(d, doubts[i]) if i in doubts else _weak(d) for i, d in enumerate(digits)]


def _confidence(predictions: list[Prediction | None]) -> float:
    """The weakest answer of a candidate reading: its probability, halved where the judge
    does not say `digit`; 0 where a piece cannot be read."""
    if any(p is None for p in predictions):
        return 0.0
    return min(p.probability * (1.0 if p.verdict == "digit" else 0.5) for p in predictions)


#: How to read an image as a number, as each front end says it (`several_digits`' how):
#: a page names its own control, the CLI its flag, the server its route (the Upload page
#: said "--number; /v1/read" beside its own switch: a user test).
READ_AS_NUMBER = {
    "any": "(Draw: 'A number'; --number; /v1/read)",
    "cli": "(--number)",
    "server": "(/v1/read)",
    "draw": "(choose 'A number' above the pad)",
    "upload": "(turn on 'Read numbers' above)",
}


def several_digits(
    clf: Classifier,
    image: ImageInput,
    prediction: Prediction,
    reading: NumberReading | None = None,
    how: str = READ_AS_NUMBER["any"],
) -> Prediction:
    """A single-digit answer that is not `digit`, with its reason saying so where the
    image holds several digits ("this looks like 3 digits: read it as a number").
    reading: the image read as a number already (else it is read here). how: where to do
    that, in the caller's words (READ_AS_NUMBER). Several lines of writing are not said
    here: a T-shirt's ink splits into "3 lines" as readily."""
    if reading is None:
        try:
            reading = read_number(clf, image, lone=False)  # (only the count matters here)
        except ImageError:
            return prediction
    n = len(reading.digits)
    if n < 2 or reading.refusal is not None:
        return prediction
    return replace(
        prediction,
        reason=f"this looks like {n} digits ({reading.text}): read it as a number {how}",
    )


def read_number(
    clf: Classifier,
    image: ImageInput,
    max_pixels: int = MAX_PIXELS,
    views: bool = True,
    lone: bool = True,
    careful: bool = False,
) -> NumberReading:
    """Every digit of a written number, left to right, each judged on its own.

    Ink wider than a digit is read both as one digit and cut into several (the cuts of
    `model.input.segment`); the classifier's own confidence chooses (`SPLIT_MARGIN`).
    Each piece goes on from its stretch of the number's ink map through the per-digit
    pipeline with a piece's settings (`piece_stages`); with `views`, a piece whose pen
    was changed is read through other pens as well (`model.input.views`), every view in
    the same model call, and its probabilities are their average. A digit of a close
    call between those readings (`CLOSE_CALL`) or read weakly (`WEAK`) is marked unsure
    (`mark_doubts`).
    With `lone`, a number of one digit is answered as that digit alone (`_as_single`).
    Where a mark is refused, the number is read again from `segment(careful=True)` (a
    larger copy, more paper round each digit), which the quick settings may have cost.
    """
    if not clf.reads_digits:
        raise ImageError(f"{clf.name} does not read digits: it cannot read a number")
    t0 = time.perf_counter()
    found = segment(image, max_pixels, careful)
    if found.lines > 1:  # rows of digits merged column by column would read as nonsense
        why = f"this looks like {found.lines} lines of writing: read one line at a time"
        return NumberReading([], None, why, time.perf_counter() - t0)
    if found.points:  # "3.50" read as 350 would be a hundred times too much
        why = (
            "a small mark low between the digits looks like a decimal point or a comma: "
            "only whole numbers are read (read the digits on either side of it apart)"
        )
        return NumberReading([], None, why, time.perf_counter() - t0)
    groups = found.groups
    # Every candidate piece, read in one batched call.
    pieces: list[Piece] = []
    for g in groups:
        pieces.append(g.whole)
        pieces.extend(g.split or [])
    xs, errors, others, owner, stages = [], [], [], [], []
    for i, piece in enumerate(pieces):
        try:
            pre = piece_stages(clf, piece)
        except ImageError as exc:  # a piece too small to read, for example
            xs.append(np.zeros((28, 28), np.float32))
            stages.append(None)
            # (a mark was found: "the image looks blank" would say it was not; a blob or
            # a dot keeps its own reason, TooSmallError's)
            blank = type(exc) is BlankImageError
            errors.append("too thin or faint" if blank else str(exc))
            continue
        xs.append(pre.x)
        stages.append(pre)
        errors.append(None)
        if views:
            seen = pen_views(pre)
            others.extend(seen)
            owner.extend([i] * len(seen))
    answers = clf.predict_views(np.stack(xs), np.array(others).reshape(-1, 28, 28), owner)
    read = [
        Digit(pc.box, x, None if err else p, pc.touching, err, _picture(pc), pre)
        for pc, x, p, err, pre in zip(pieces, xs, answers, errors, stages, strict=True)
    ]
    digits: list[Digit] = []
    doubts: dict[int, str] = {}  # digit -> why it is unsure (a close call between cuts)
    at = 0
    for g in groups:
        whole, at = read[at], at + 1
        if g.split is None:
            digits.append(whole)
            continue
        split, at = read[at : at + len(g.split)], at + len(g.split)
        one = _confidence([whole.prediction])
        several = _confidence([d.prediction for d in split])
        # Where the shape says several (very wide ink, two digit-tall strokes side by
        # side), the cut stands unless its pieces are clearly weaker than the whole.
        margin = -SPLIT_MARGIN if g.likely_split else SPLIT_MARGIN
        better = several > one + margin
        chosen = split if better else [whole]
        if abs(several - (one + margin)) < CLOSE_CALL:  # one digit or several: a close call
            other = "one digit" if better else f"{len(split)} digits"
            for i in range(len(digits), len(digits) + len(chosen)):
                doubts[i] = f"a close call: this ink reads almost as well as {other}"
        digits.extend(chosen)
    digits = mark_doubts(digits, doubts)
    if lone and len(digits) == 1:
        digits = [_as_single(clf, image, max_pixels, digits[0])]
    text, refusal = _text(digits)
    if refusal is not None and found.quick:
        again = read_number(clf, image, max_pixels, views, lone, careful=True)
        return replace(again, seconds=time.perf_counter() - t0)
    return NumberReading(digits, text, refusal, time.perf_counter() - t0)


def piece_stages(clf: Classifier, piece: Piece) -> Preprocessed:
    """A digit's stages, from its stretch of the number's ink map (`Piece.ink`) on: the
    lighting is corrected once, on the whole number (`model.input.segment`), and each
    digit goes on from its ink as a single digit does after its own correction
    (`stages_from_ink`). A piece with no ink map, or larger than a working copy, is read
    from its picture alone, as one digit. Raises ImageError / BlankImageError."""
    ink = piece.ink
    if ink is None or max(ink.shape) > WORKING_SIDE:
        return clf.preprocess_stages(piece.image, piece=True)
    display = partial(_display, piece)  # (its picture: shown, not read; made where shown)
    return stages_from_ink(
        ink, piece.polarity, display, _picture(piece), ink.shape, clf.recipe, True
    )


def _picture(piece: Piece) -> Callable[[], np.ndarray]:
    """How to get a piece's picture (made once, where it is first shown; it pickles)."""
    return partial(getattr, piece, "image")


def _display(piece: Piece) -> Image.Image:
    return Image.fromarray((piece.image * 255 + 0.5).astype(np.uint8))


def _as_single(clf: Classifier, image: ImageInput, max_pixels: int, digit: Digit) -> Digit:
    """A number of one digit, answered as the single-digit path answers the same image
    (`Classifier.predict`, `/v1/predict`, Draw's one-digit mode): the piece's reading,
    through other pens, differed from it on 1-2 % of realistic digits (label) and 2-4 %
    (verdict). Where that path refuses the image (a short stroke too small to read), so
    does the number, for the same reason; a mark the piece's path refused is tried
    there too (a lone dot is told what a single digit's dot is told)."""
    try:
        stages = clf.preprocess_stages(image, max_pixels)
    except ImageError as exc:
        # (a mark was found: "the image looks blank" would say it was not)
        why = "too thin or faint" if type(exc) is BlankImageError else str(exc)
        return replace(digit, prediction=None, error=why)
    return replace(digit, x=stages.x, prediction=clf.predict_input(stages.x), stages=stages)


def digit_stages(clf: Classifier, reading: NumberReading, index: int) -> Preprocessed:
    """The stages digit `index` (0: the leftmost) was read from (`piece_stages`; a number
    of one digit: the single-digit path's): where its map and its counterfactual ("make
    the 4 a 9") start. Raises NoSuchDigitError for a place the number does not have, or a
    mark that was not read. (`clf` is kept for callers: the stages are the reading's.)"""
    n = len(reading.digits)
    if n == 0 and reading.refusal:  # (no digits: the number's own refusal says why)
        raise NoSuchDigitError(f"there is no number to take digit {index} of: {reading.refusal}")
    if not 0 <= index < n:
        places = "0" if n == 1 else f"0 to {n - 1}"
        raise NoSuchDigitError(
            f"the number has {n} digit{'s' * (n != 1)}: digit {index} is not one of them "
            f"(digits count from 0, the leftmost: {places})"
        )
    d = reading.digits[index]
    if d.prediction is None or d.stages is None:
        raise NoSuchDigitError(f"the {ordinal(index)} mark was not read as a digit ({d.error})")
    return d.stages


def explain_digits(
    clf: Classifier, reading: NumberReading, method: str | None = None, layer: str | None = None
) -> list[Report | None]:
    """Each digit's map with its trust (`model.why.report.report`, the one report every
    front end uses), drawn over that digit's own ink; None for a piece that was not read.
    The map explains the digit's answer (its pens' views averaged), even where its one
    input alone would be read as another class. method/layer None: the model's default."""
    from model.why.report import report

    return [
        None
        if d.prediction is None or d.stages is None
        else report(clf, digit_stages(clf, reading, i), method, layer, d.prediction.label)
        for i, d in enumerate(reading.digits)
    ]
