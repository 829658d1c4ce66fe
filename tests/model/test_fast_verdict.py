"""The verdict's fast path gives the old numbers: one input's OOD score in float32
scalars against the array code as it was (`benchmarks.equivalence.array_scores`), the
loop rule's shortcut against scipy's count, and the verdict that ranks classes only when
it needs them against the one that always did (`ranked_verdict`). Bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.equivalence import array_scores, ranked_verdict, scipy_loops
from model.judge.verdict import BLANK_REASON, MAX_DIGIT_LOOPS, more_loops_than_a_digit
from tests.helpers import digits_and_negatives


@pytest.fixture(scope="module")
def inputs(mnist_cnn, real_data_dir) -> np.ndarray:
    """(N, 28, 28, 1): MNIST test digits, every kind of negative, loops of every count."""
    assert mnist_cnn.fused  # joins the detector in: predict_and_detect answers both
    x = digits_and_negatives(mnist_cnn, real_data_dir, 400, 60)
    rng = np.random.default_rng(0)
    x += list((rng.random((100, 28, 28)) ** 3).astype(np.float32))  # pockets of every size
    return np.stack(x)[..., None]


def test_one_inputs_score_is_the_array_codes_bit_for_bit(mnist_cnn, inputs):
    judge = mnist_cnn.judge
    probs, logodds = mnist_cnn.runtime.predict_and_detect(inputs)
    one = [
        judge.scores(inputs[i : i + 1], probs[i : i + 1], logodds[i : i + 1])
        for i in range(len(inputs))
    ]
    old = array_scores(judge, inputs, probs, logodds)
    assert np.array_equal(np.concatenate(one), old)
    assert np.array_equal(judge.scores(inputs, probs, logodds), old)  # the batch path too
    assert (old >= 100).any() and (old < judge.card.unsure).any()  # loops and plain digits


def test_the_loop_shortcut_answers_as_the_full_count(inputs):
    fast = [more_loops_than_a_digit(a) for a in inputs]
    assert fast == [scipy_loops(a) > MAX_DIGIT_LOOPS for a in inputs]
    assert any(fast) and not all(fast)


def test_the_verdict_ranks_classes_only_when_needed_and_says_the_same(mnist_cnn, inputs):
    judge = mnist_cnn.judge
    probs, logodds = mnist_cnn.runtime.predict_and_detect(inputs)
    scores = judge.scores(inputs, probs, logodds)
    rng = np.random.default_rng(1)
    cases = [(float(s), p, True) for s, p in zip(scores, probs, strict=True)]
    posthoc = -np.log(probs.max(axis=1))
    cases += [(float(s), p, False) for s, p in zip(posthoc, probs, strict=True)]
    flat = np.full(10, 0.1, np.float32)  # ties everywhere
    edges = [judge.card.unsure, judge.card.reject, 0.0, 1e9, float("nan")]
    for s in edges:
        for p in (flat, rng.dirichlet(np.ones(10)).astype(np.float32), probs[0]):
            cases += [(s, p, True), (s, p, False)]
    answers = [judge.verdict(*case) for case in cases]
    assert answers == [ranked_verdict(judge, *case) for case in cases]
    assert {v for v, _ in answers} == {"digit", "unsure", "not_a_digit"}


def test_one_inputs_prediction_is_the_batch_paths(mnist_cnn, inputs):
    """A single input's Prediction, read from its row as Python floats, is the one the
    batch path makes with numpy: label, probability, verdict, score and reason."""
    probs, logodds = mnist_cnn.runtime.predict_and_detect(inputs)
    # and two more: equal maxima, and a blank input
    probs = np.concatenate([probs, np.full((1, 10), 0.1, np.float32), probs[:1]])
    x = np.concatenate([inputs, inputs[:1], np.zeros_like(inputs[:1])])
    logodds = np.concatenate([logodds, logodds[:1], logodds[:1]])
    batch = mnist_cnn.to_predictions(probs, x, logodds)
    one = [
        mnist_cnn.to_predictions(probs[i : i + 1], x[i : i + 1], logodds[i : i + 1])[0]
        for i in range(len(x))
    ]
    fields = ("label", "probability", "class_name", "verdict", "ood_score", "reason")
    assert [[getattr(p, f) for f in fields] for p in one] == [
        [getattr(p, f) for f in fields] for p in batch
    ]
    assert {p.verdict for p in one} == {"digit", "unsure", "not_a_digit"}
    assert one[-2].label == 0  # the first of equal maxima, as numpy's argmax
    assert one[-1].reason == BLANK_REASON


def test_a_tie_names_the_class_the_label_names(mnist_cnn):
    """Ten equal probabilities: the label is 0 (numpy's argmax, the first), and the
    reason named 9 as "its best guess" (the ranking took the last; a user test)."""
    flat = np.full(10, 0.1, np.float32)
    pred = mnist_cnn.to_prediction(flat, np.zeros((28, 28), np.float32) + 0.5)
    assert pred.label == 0
    verdict, reason = mnist_cnn.judge.verdict(5.0, flat, False)
    assert "its best guess, 0," in reason, reason


def test_reasons_say_whole_percents_in_words_never_zero():
    """A reason said "(72% against 10%)" beside "9 (71.8 %)", and could say "0%" for a
    runner-up under half a percent (a person never sees 0 % for a softmax). Whole
    percents now follow format_probability: "> 99 %", "< 1 %", "72 %"."""
    from model.judge.verdict import POSTHOC_REJECT, POSTHOC_UNSURE, Judge

    judge = Judge(tuple("0123456789"), "a digit")
    probs = np.array([0.996, 0.003] + [1e-4] * 8, np.float32)
    middle = (POSTHOC_UNSURE + POSTHOC_REJECT) / 2
    verdict, why = judge.verdict(middle, probs, detector_score=False)
    assert verdict == "unsure" and "(> 99 % against < 1 %)" in why, why
    probs = np.array([0.72, 0.10] + [0.0225] * 8, np.float32)
    assert "(72 % against 10 %)" in judge.verdict(middle, probs, detector_score=False)[1]
    _, why = judge.verdict(POSTHOC_REJECT + 1, probs, detector_score=False)
    assert "has only 72 %" in why and "0%" not in why
