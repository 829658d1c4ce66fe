"""The trust score: relative to the ink map, its edges and random, so that a map
which ignores the model cannot win."""

import numpy as np
import pytest

from model.why.attribution import compute_maps
from model.why.faithfulness import faithfulness
from model.why.trust import (
    TRUST_RANDOM_ORDERS,
    Trust,
    reference_maps,
    trust,
    trust_batch,
    trust_counts,
)
from tests.helpers import drawn_digit

N_DIGITS = 24  # the first test digits: a fixed set


@pytest.fixture(scope="module")
def digits(real_data_dir, mnist_cnn):
    from model.datasets import load_split, locate, to_model_input

    test = load_split(locate("mnist", real_data_dir), "test")
    x = to_model_input(test.images[:N_DIGITS])[..., 0]  # (N, 28, 28)
    return x, mnist_cnn.probabilities(x).argmax(axis=1)


def scores(clf, x, maps, labels) -> np.ndarray:
    return np.array([t.score for t in trust_batch(clf.probabilities, x, maps, labels)])


@pytest.mark.data
def test_trust_ranks_random_below_ink_below_a_good_method(mnist_cnn, digits):
    x, labels = digits
    refs = reference_maps(x)
    ig = compute_maps(mnist_cnn.net, x, "integrated_gradients", None, labels)
    random_s, ink_s, ig_s = (scores(mnist_cnn, x, m, labels) for m in (refs[:, 2], refs[:, 0], ig))
    assert random_s.mean() < ink_s.mean() < ig_s.mean()
    assert ig_s.mean() > 0  # beats the input itself on average


@pytest.mark.data
def test_an_input_only_map_cannot_score_above_zero(mnist_cnn, digits):
    x, labels = digits
    refs = reference_maps(x)
    for k in (0, 1):  # the ink itself, its Sobel edges
        assert (scores(mnist_cnn, x, refs[:, k], labels) <= 1e-6).all()
    # The old insertion-deletion score is exactly what the ink map wins:
    assert faithfulness(mnist_cnn.probabilities, x[0], x[0], int(labels[0])).score > 0.2


def test_one_map_is_one_batched_call_with_every_reference(mnist_cnn):
    x = mnist_cnn.preprocess(drawn_digit(7))
    calls = []

    def probabilities(batch):
        calls.append(len(batch))
        return mnist_cnn.probabilities(batch)

    t = trust(probabilities, x, x, 7)
    assert calls == [(3 + TRUST_RANDOM_ORDERS) * len(trust_counts((28, 28)))]
    assert t.verdict in {"no better than the input itself", "beats the ink map"}
    d = t.to_dict()
    assert d["verdict"] == t.verdict and d["pixels_to_flip"] == t.pixels_to_flip


def test_verdicts_in_words():
    base = dict(
        ink_auc=0.4,
        edges_auc=0.6,
        random_auc=0.9,
        pixels_to_flip=20,
        ink_pixels_to_flip=60,
        edges_pixels_to_flip=None,
        random_pixels_to_flip=None,
        max_pixels=196,
    )
    assert Trust(deletion_auc=0.2, **base).verdict == "beats the ink map"
    # A photo model's reference is the input's local contrast, and it is named so (it was
    # "beats the ink map" beside a sentence that said "contrast", a user test).
    photo = Trust(deletion_auc=0.2, perturbation="mean", **base)
    assert photo.verdict == "beats the contrast map" and "contrast" in photo.sentence
    assert Trust(deletion_auc=0.41, **base).verdict == "no better than the input itself"
    assert Trust(deletion_auc=0.7, **base).verdict == "worse than the input itself"
    assert Trust(deletion_auc=0.95, **base).verdict == "no better than random"
    assert Trust(deletion_auc=0.9, empty=True, **base).verdict == "empty map: nothing to check"
    assert "more than 196" in Trust(deletion_auc=0.2, **base).sentence
    # The sentence quotes what the verdict is judged on, against the reference it names
    # (it said "Beats the edge map" beside the ink's flip count, fewer than the map's).
    edges = Trust(**{**base, "deletion_auc": 0.2, "edges_auc": 0.3, "edges_pixels_to_flip": 12})
    said = edges.sentence
    assert said.startswith("Beats the edge map") and "own edges: 30.0 %" in said, said
    assert "mean probability is 20.0 %" in said and "(edges: 12; random: more than 196)" in said
    # a probability in the project's words: "1.00" read as certainty (a user test)
    sure = Trust(**{**base, "deletion_auc": 0.99996, "random_auc": 0.99999}).sentence
    assert "mean probability is > 99.9 %" in sure and "random order: > 99.9 %" in sure, sure


def test_several_maps_share_their_references_and_score_as_alone(mnist_cnn):
    """trust_maps (one call, shared ink/edge/random curves) gives each map the same Trust
    as scoring it alone, also when the maps explain different classes."""
    from model.input.samples import drawn_digit
    from model.why.trust import trust, trust_maps

    x = mnist_cnn.preprocess(drawn_digit(7))
    rng = np.random.default_rng(1)
    maps = np.stack([x, rng.random((28, 28)).astype(np.float32), np.zeros((28, 28), np.float32)])
    labels = np.array([7, 7, 1])
    together = trust_maps(mnist_cnn.probabilities, x, maps, labels)
    alone = [
        trust(mnist_cnn.probabilities, x, m, int(c)) for m, c in zip(maps, labels, strict=True)
    ]
    assert together == alone
    assert together[2].empty and not together[0].empty
