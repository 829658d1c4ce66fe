"""Is this input something the model knows? A verdict beside every prediction.

Every `Prediction` carries `verdict` (`digit`, `unsure` or `not_a_digit`), `ood_score`
(higher = less like the training data) and `reason` (a sentence for a person, or
None when the answer is a plain `digit`).

Three judges, chosen per model (`model.judge.which`):
- **Detector** (the digit models): small CNNs trained by `python -m training.ood`
  on digits against generated letters, shapes, scribbles, noise and Fashion-MNIST,
  run on ONNX Runtime (~0.03 ms an image each here; no TensorFlow); the bundled file
  averages two of them (`training.ensemble`). Its output is the
  log-odds that the 28x28 input is not a digit; `ood_score` adds `softmax_weight`
  (4) times the classifier's -ln(max probability), which separates letters a little
  better than either alone. Thresholds live in `<name>.ood.json` beside the model,
  set on held-out realistic and typed digits: below `unsure` for 95 % of them (the band above
  it is `unsure`), above `reject` for at most 0.5 %. An input with more closed loops
  than any digit has (three or more, counted on the 28x28 input) is `not_a_digit`
  whatever the net says. fashion-cnn has one of its own (`python -m training.ood_items`:
  Fashion-MNIST against digits, letters, shapes and scribbles; no softmax term, and its
  card's `loop_penalty` is 0: the loop rule is a digit's).
- **Borrowed** (a user's 28x28 model of the ten digits, MNIST recipe, without a detector
  of its own): mnist-cnn's detector and thresholds (`borrowed_judge`). The detector judges
  the input; the score's softmax term is the user's model's.
- **Post-hoc** (any other model without a detector, e.g. a user's clothes or photo
  `.keras`): `ood_score = -ln(max probability)`, the max-softmax baseline
  (Hendrycks & Gimpel, 2017). It is weaker (AUROC 0.85-0.97 on the report sets of
  benchmarks/ood.py for mnist-cnn, against 0.92-1.0 with the detector), so it only
  says `unsure` or, when the model spreads its answer thin, `not_a_digit`.

Either way, a confident classifier can still be unsure: when the top probability is
below `P_UNSURE`, the answer is `unsure` and the reason names the runner-up.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from model.input.preprocessing import INK_LEVEL, MIN_INK_PIXELS
from model.judge.percent import format_probability
from model.runtime.card import Card

Verdict = Literal["digit", "unsure", "not_a_digit"]

#: No digit has more than two loops (8 has two; 0, 4, 6, 9 one). A drawing with more
#: closed loops is a scribble, a star, a hash: its score gets LOOP_PENALTY added, far
#: above any `reject` threshold. Loops are counted on the (28, 28) model input: holes
#: in the ink above LOOP_INK, of at least LOOP_MIN_AREA pixels (smaller gaps are pen
#: texture). Measured (300 per set): no MNIST test digit (of 3,000) and no realistic
#: digit (canvas, photo, font, tight-marker, lowres) has three; 10 % of scribbles
#: (other seeds than the benchmark's) and 7 % of report shapes do.
MAX_DIGIT_LOOPS = 2
LOOP_INK = 0.5
LOOP_MIN_AREA = 4
LOOP_PENALTY = 100.0
#: An input already in model format (a v2 tensor, a row of an IDX file) with less ink
#: than an image needs to be read (`model.input.preprocessing`: MIN_INK_PIXELS above
#: INK_LEVEL) is not a digit: the network answered a blank 28x28 with "1, 99.98 %".
BLANK_REASON = "There is nothing to read: the input has no ink."
_INK = np.float32(INK_LEVEL)  # (compared with float32 inputs without a cast)
VERDICTS: tuple[Verdict, ...] = ("digit", "unsure", "not_a_digit")

#: Below this top probability the classifier itself is torn between classes.
P_UNSURE = 0.6
#: Post-hoc thresholds on -ln(max probability): `unsure` below 0.8, `not_a_digit`
#: below 0.4 (on ten classes 0.4 means the model spreads its answer over several).
POSTHOC_UNSURE = -math.log(0.8)
POSTHOC_REJECT = -math.log(0.4)


@dataclass(frozen=True)
class OodCard:
    """`<name>.ood.json`: the detector file and its thresholds on its log-odds score."""

    file: str
    unsure: float  # score at or above this: `unsure`
    reject: float  # score at or above this: `not_a_digit`
    p_unsure: float = P_UNSURE
    softmax_weight: float = 0.0  # score = detector log-odds + this * -ln(max probability)
    #: added to the score of an input with more loops than a digit has: a digit detector's
    #: rule (its cards predate the field); 0 for any other model's (a sandal has many)
    loop_penalty: float = LOOP_PENALTY
    calibration: dict[str, Any] = field(default_factory=dict)  # what the thresholds let through
    trained: dict[str, Any] = field(default_factory=dict)  # command, data, parameters

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ood_card_path(keras_path: str | os.PathLike) -> Path:
    path = Path(keras_path)
    return path.with_name(f"{path.stem}.ood.json")


def read_ood_card(keras_path: str | os.PathLike) -> OodCard | None:
    """The detector card beside a `.keras` file, or None (then the post-hoc score is used)."""
    path = ood_card_path(keras_path)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return OodCard(**{k: raw[k] for k in OodCard.__dataclass_fields__ if k in raw})


def write_ood_card(keras_path: str | os.PathLike, card: OodCard) -> Path:
    path = ood_card_path(keras_path)
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return path


class Detector:
    """The ONNX digit detector: (N, 28, 28) model inputs -> (N,) log-odds of 'not a digit'.

    One single-threaded session: the net is ~22 k parameters, a thread pool would
    cost more than it saves. `run` is thread-safe.
    """

    def __init__(self, path: str | os.PathLike):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)  # the ONNX file (the Draw page ships it to the browser)
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def scores(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        if len(x) == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self._session.run(None, {self._input: x})[0], np.float32).reshape(-1)


def posthoc_scores(probs: np.ndarray) -> np.ndarray:
    """(N, C) probabilities -> (N,) -ln(max probability): 0 when certain, ln(C) when lost."""
    # The max of the float32 row, then float64: the same number as the max of the row
    # converted to float64, without converting the whole (N, C) array.
    p_max = np.asarray(probs).reshape(len(probs), -1).max(axis=1).astype(np.float64)
    return (-np.log(np.clip(p_max, 1e-12, 1.0))).astype(np.float32)


def count_loops(x: np.ndarray) -> int:
    """Closed loops in a (28, 28) model input: background pockets the ink fully encloses."""
    ink = np.asarray(x, np.float32).reshape(28, 28) > LOOP_INK
    # 4-connected background (a diagonal gap closes no loop); label 0 is the ink.
    n, pockets, stats, _ = cv2.connectedComponentsWithStats((~ink).view(np.uint8), connectivity=4)
    if n <= 2:  # the ink and at most one background region
        return 0
    sizes = stats[:, cv2.CC_STAT_AREA].copy()
    edge = np.concatenate([pockets[0], pockets[-1], pockets[:, 0], pockets[:, -1]])
    sizes[edge] = 0  # open to the border: not a loop
    sizes[0] = 0  # the ink itself
    return int((sizes >= LOOP_MIN_AREA).sum())


def more_loops_than_a_digit(x: np.ndarray) -> bool:
    """Whether a (28, 28) model input has more closed loops than any digit: the same answer
    as `count_loops(x) > MAX_DIGIT_LOOPS`, mostly without sizing the pockets.

    Every loop is a background region of its own, so an input with at most
    MAX_DIGIT_LOOPS background regions (OpenCV's plain labelling, half the cost of the
    one with statistics) cannot have more loops; only the others are counted in full.
    """
    ink = np.asarray(x, np.float32).reshape(28, 28) > LOOP_INK
    regions = cv2.connectedComponents((~ink).view(np.uint8), connectivity=4)[0] - 1
    return regions > MAX_DIGIT_LOOPS and count_loops(x) > MAX_DIGIT_LOOPS


def loop_penalties(x: np.ndarray, penalty: float = LOOP_PENALTY) -> np.ndarray:
    """(N,) `penalty` for each (N, 28, 28) input with more loops than a digit has, else 0."""
    x = np.asarray(x, np.float32).reshape(-1, 28, 28)
    if not penalty:
        return np.zeros(len(x), np.float32)
    return np.array([penalty if more_loops_than_a_digit(a) else 0.0 for a in x], np.float32)


def combined_scores(detector: np.ndarray, probs: np.ndarray, weight: float) -> np.ndarray:
    """The detector's (N,) log-odds plus `weight` times the classifier's -ln(max probability)."""
    return (np.asarray(detector, np.float32) + weight * posthoc_scores(probs)).astype(np.float32)


@dataclass(frozen=True)
class Judge:
    """Turns (score, probabilities) into a verdict and a reason, for one model."""

    class_names: tuple[str, ...]
    thing: str  # what the model reads, for sentences: "a digit", "a Fashion-MNIST item"
    card: OodCard | None = None
    detector: Detector | None = field(default=None, compare=False, repr=False)
    #: The bundled model whose detector this judge borrowed (`borrowed_judge`), or None.
    lent: str | None = None

    @property
    def unlike(self) -> str:
        """What a detector's `not_a_digit` says the input looks like instead."""
        return UNLIKE.get(self.thing, "a digit, a letter, a shape or a scribble")

    @property
    def method(self) -> str:
        if self.detector is None:
            return "max-softmax"
        return f"{self.lent}'s detector" if self.lent else "detector"

    @property
    def lent_note(self) -> str | None:
        """What the front ends say where the verdicts are a lent detector's, else None."""
        return f"verdicts by {self.lent}'s digit detector" if self.lent else None

    def scores(
        self, x: np.ndarray | None, probs: np.ndarray, detector: np.ndarray | None = None
    ) -> np.ndarray:
        """(N,) OOD scores: the detector's on the (N, 28, 28) inputs, else post-hoc.

        detector: the detector's (N,) log-odds on `x` where they were already computed
        (the classifier and the detector fused in one graph, `model.runtime.fused`).
        """
        if self.detector is not None and x is not None and self.card is not None:
            logodds = self.detector.scores(x) if detector is None else detector
            if len(probs) == 1:  # one input (a request, a drawing): scalars, no array calls
                p_max = float(np.asarray(probs).max())
                return np.array([self.score_one(x, p_max, logodds)], np.float32)
            score = combined_scores(logodds, probs, self.card.softmax_weight)
            return (score + loop_penalties(x, self.card.loop_penalty)).astype(np.float32)
        return posthoc_scores(probs)

    def score_one(self, x: np.ndarray | None, p_max: float, logodds: np.ndarray | None) -> float:
        """`scores` for one input whose largest probability is `p_max` (a float32's value),
        in float32 scalars: the same operations on the same numbers as the array code
        (posthoc_scores, combined_scores, loop_penalties), without a dozen calls on arrays
        of one element. logodds: the detector's, where the fused graph computed them."""
        posthoc = np.float32(-np.log(min(max(p_max, 1e-12), 1.0)))  # float64, as the arrays
        if self.detector is None or x is None or self.card is None:
            return float(posthoc)
        if logodds is None:
            logodds = self.detector.scores(x)
        weight = np.float32(self.card.softmax_weight)  # a weak Python float in the array code
        score = np.float32(np.asarray(logodds).reshape(-1)[0]) + weight * posthoc
        loops = self.card.loop_penalty
        penalty = loops if loops and more_loops_than_a_digit(x) else 0.0
        return float(score + np.float32(penalty))

    def rule(self) -> dict[str, Any]:
        """The verdict rule as plain numbers, for a port of `scores` and `verdict` (the Draw
        page's live reading in the browser, static/digitlens/verdict.mjs).

        `method` is "detector" (score = detector log-odds + softmax_weight * -ln(max p),
        plus loop_penalty for more than max_digit_loops loops) or "max-softmax"
        (score = -ln(max p)); the thresholds are those `verdict` applies to that score.
        """
        card = self.card if self.detector is not None else None  # as `scores` decides
        unsure, reject, p_unsure = self.thresholds(card is not None)
        rule: dict[str, Any] = {
            "method": "detector" if card is not None else "max-softmax",
            "unsure": unsure,
            "reject": reject,
            "p_unsure": p_unsure,
            "thing": self.thing,
            "unlike": self.unlike,
        }
        if card is not None:
            rule.update(
                softmax_weight=card.softmax_weight,
                max_digit_loops=MAX_DIGIT_LOOPS,
                loop_ink=LOOP_INK,
                loop_min_area=LOOP_MIN_AREA,
                loop_penalty=card.loop_penalty,
            )
        return rule

    @staticmethod
    def blank(x: np.ndarray) -> np.ndarray:
        """(N,) whether each (N, 28, 28[, 1]) model-format input is blank (BLANK_REASON)."""
        if len(x) == 1:  # (one drawing: a third of the general call's time, on the hot path)
            return np.array([Judge.blank_one(x)])
        ink = np.asarray(x).reshape(len(x), -1) > _INK
        return np.count_nonzero(ink, axis=1) < MIN_INK_PIXELS

    @staticmethod
    def blank_one(x: np.ndarray) -> bool:
        """Whether one model-format input is blank (`blank` for a batch)."""
        return np.count_nonzero(x > _INK) < MIN_INK_PIXELS

    def thresholds(self, detector_score: bool) -> tuple[float, float, float]:
        """(unsure, reject, p_unsure) for the kind of score at hand."""
        if detector_score and self.card is not None:
            return self.card.unsure, self.card.reject, self.card.p_unsure
        return POSTHOC_UNSURE, POSTHOC_REJECT, P_UNSURE

    def verdict(
        self, score: float, probs: np.ndarray, detector_score: bool, p_max: float | None = None
    ) -> tuple[Verdict, str | None]:
        """(verdict, reason) for one input; p_max: `float(probs.max())`, where known."""
        unsure, reject, p_unsure = self.thresholds(detector_score)
        if p_max is None:
            p_max = float(probs.max())
        if score < unsure and score < reject and p_max >= p_unsure:
            return "digit", None  # the common answer: no ranking of the classes needed
        order = np.argsort(-probs, kind="stable")  # (ties: the lower class first, as argmax)
        first, second = self.class_names[order[0]], self.class_names[order[1]]
        if score >= reject:
            if detector_score:
                return "not_a_digit", (
                    f"This does not look like {self.thing}: more like {self.unlike}."
                )
            return "not_a_digit", (
                f"The model finds no class that fits: this may not be {self.thing} at all "
                f"(its best guess, {first}, has only {_whole(probs[order[0]])})."
            )
        if detector_score and score >= unsure:
            return "unsure", (
                f"This looks unusual for {self.thing}; if it is one, it is most like {first}."
            )
        if score >= unsure or float(probs[order[0]]) < p_unsure:
            return "unsure", (
                f"It could be {first} or {second}: the model cannot tell them apart "
                f"({_whole(probs[order[0]])} against {_whole(probs[order[1]])})."
            )
        return "digit", None


def _whole(p: float) -> str:
    """A probability in whole percents, as the reasons say it ("72 %", "< 1 %", "> 99 %";
    never "0%"); static/digitlens/verdict.mjs `pct` says it the same way."""
    return format_probability(float(p), 0)


#: How sentences name what a model of each data set reads.
THINGS = {"mnist": "a digit", "fashion-mnist": "a Fashion-MNIST item"}
OTHER_THING = "something this model knows"
#: The classes of a model that reads digits (`Classifier.reads_digits`).
DIGIT_CLASSES = tuple(str(d) for d in range(10))
#: The verdicts in words for people, for a model of digits (True) or of anything else
#: (False: a Sandal is not "digit"); the API and the files keep the values themselves.
VERDICT_WORDS = {
    True: {"digit": "digit", "unsure": "unsure", "not_a_digit": "not a digit"},
    False: {"digit": "sure", "unsure": "unsure", "not_a_digit": "not one it knows"},
}
#: What the input looks like instead, by what the model reads (`Judge.unlike`).
UNLIKE = {"a digit": "a letter, a shape, a scribble or a picture"}


def thing_for(card: Card, class_names: tuple[str, ...], digits: bool = True) -> str:
    """How sentences name what a model reads, from its card's data set; a card that names
    none (a user's model) reads digits only where its classes are the ten digits (a
    three-class model of shapes was told "this may not be a digit at all") and `digits`
    (its preprocessing is not another recipe's: a clothes model fed the fashion recipe,
    classes named 0-9, was told "this may not be a digit at all")."""
    if card.dataset is None and (tuple(class_names) != DIGIT_CLASSES or not digits):
        return OTHER_THING
    return THINGS.get(card.dataset_or_default, OTHER_THING)


def calibrate(
    scores: np.ndarray,
    probs: np.ndarray,
    file: str,
    digit_tpr: float,
    reject_fpr: float,
    trained: dict[str, Any],
    softmax_weight: float = 0.0,
    loop_penalty: float = LOOP_PENALTY,
) -> OodCard:
    """Thresholds from held-out realistic digits' detector log-odds (N,) and probabilities (N, C).

    `unsure` lets `digit_tpr` of them through; `reject` calls at most `reject_fpr` of
    them not a digit.
    """
    scores = combined_scores(scores, probs, softmax_weight)
    unsure = float(np.quantile(scores, digit_tpr))
    reject = max(float(np.quantile(scores, 1.0 - reject_fpr)), unsure)
    p_max = np.asarray(probs).max(axis=1)
    answered_digit = float(((scores < unsure) & (p_max >= P_UNSURE)).mean())
    return OodCard(
        file=file,
        unsure=round(unsure, 4),
        reject=round(reject, 4),
        p_unsure=P_UNSURE,
        softmax_weight=softmax_weight,
        loop_penalty=loop_penalty,
        calibration={
            "n": len(scores),
            "answered_digit": round(answered_digit, 4),
            "called_not_a_digit": round(float((scores >= reject).mean()), 4),
        },
        trained=trained,
    )
