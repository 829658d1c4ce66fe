"""Counterfactuals and their adversarial twins: a tiny named model (shapes, the failure
message, bad targets and inputs), the shipped prior (offline, its card), and the bundled
digit models' behaviour (valid, realistic edits of drawn and real digits)."""

import socket
from dataclasses import replace

import numpy as np
import pytest

from model import load_classifier
from model.errors import (
    BlankImageError,
    CounterfactualError,
    NoiseImageError,
    NoPriorError,
)
from model.judge.verdict import VERDICTS
from model.runtime.artifacts import WEIGHTS_DIR
from model.why.counterfactual import adversarial, counterfactual
from model.why.edit_pictures import change_picture, edit_on_original, edit_picture
from model.why.latent_search import LATENT, P_VALID
from model.why.prior import PriorCard, load_prior, prior_path_for, read_prior_card
from tests.helpers import drawn_digit

PRIOR = WEIGHTS_DIR / "mnist.prior.keras"


def tiny_model(stuck_on: int | None = None):
    """Named layers, 28x28x1 in, ten classes out. stuck_on: every weight zero and that
    class's bias high, so the model reads that class whatever it sees."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(4, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(10, activation="softmax", name="output")(x)
    net = keras.Model(inp, out, name="tiny")
    if stuck_on is not None:
        for w in net.weights:
            w.assign(keras.ops.zeros_like(w))
        bias = np.zeros(10, np.float32)
        bias[stuck_on] = 12.0
        net.get_layer("output").bias.assign(bias)
    return net


@pytest.fixture(scope="module")
def stuck(tmp_path_factory):
    """A tiny model (no card: an MNIST model by default) that always reads 0."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    tiny_model(stuck_on=0).save(path)
    return load_classifier(path)


@pytest.fixture(scope="module")
def seven():
    return drawn_digit(7)


# ------------------------------------------------------------------ the tiny model


def test_a_model_that_cannot_be_moved_fails_in_words_never_silently(stuck, seven):
    for fn in (counterfactual, adversarial):
        r = fn(stuck, stuck.preprocess_stages(seven), 3)
        assert not r.succeeded
        assert r.label == 0 and r.probabilities[3] < P_VALID
        assert r.message.startswith(f"No {r.kind} found") and "3" in r.message
        # Said in words a person reads: "within 0 steps" (the walk has none) and "gives 3
        # < 1 %" read as garbled.
        assert "within 0 steps" not in r.message and "a probability of" in r.message, r.message


def test_shapes_and_types_follow_the_models_input(stuck, seven):
    x = stuck.preprocess(seven)
    for fn in (stuck.counterfactual, stuck.adversarial):
        r = fn(seven, target=5)
        assert r.x.shape == x.shape == r.original.shape and r.x.dtype == np.float32
        assert r.added.shape == r.removed.shape == x.shape[:2]
        assert r.added.min() >= 0 and r.removed.min() >= 0
        assert r.probabilities.shape == (10,) and abs(float(r.probabilities.sum()) - 1) < 1e-4
        assert r.verdict in VERDICTS and r.seconds > 0
        assert r.x.min() >= 0 and r.x.max() <= 1
        d = r.to_dict()
        assert d["target"] == 5 and d["succeeded"] is False and isinstance(d["message"], str)


def test_the_target_already_read_needs_no_edit(stuck, seven):
    r = stuck.counterfactual(seven, target=0)
    assert r.succeeded and r.label == 0 and r.l1 == 0 and r.added.max() == 0
    # said as such ("succeeded after this edit (L2 0.00)" read as if something was edited)
    assert "already reads 0" in r.message and "no counterfactual is needed" in r.message


@pytest.mark.parametrize("target", [10, -1, "7", 2.0, True])
def test_a_target_outside_the_classes_is_refused_clearly(stuck, seven, target):
    for fn in (stuck.counterfactual, stuck.adversarial):
        with pytest.raises(CounterfactualError, match="class index from 0 to 9"):
            fn(seven, target=target)


def test_blank_and_noise_inputs_say_what_they_are(stuck):
    with pytest.raises(BlankImageError):
        stuck.counterfactual(np.zeros((280, 280), np.uint8), target=3)
    noise = (np.random.default_rng(0).random((280, 280)) * 255).astype(np.uint8)
    with pytest.raises(NoiseImageError):
        stuck.adversarial(noise, target=3)
    with pytest.raises(BlankImageError, match="no ink"):
        counterfactual(stuck, np.zeros((28, 28), np.float32), 3)  # model format, empty


def test_pictures_colour_added_and_removed_ink(stuck, seven):
    r = adversarial(stuck, stuck.preprocess_stages(seven), 3)
    pic = edit_picture(r, 56)
    change, gain = change_picture(r, 56)
    assert pic.shape == change.shape == (56, 56, 3) and pic.dtype == np.uint8
    assert gain >= 1
    on_yours = edit_on_original(r)  # over the drawing at its own size
    assert on_yours.shape == r.stages.original.shape and on_yours.dtype == np.uint8
    assert edit_on_original(adversarial(stuck, r.x, 3)) is None  # model format: no original


def test_the_edit_is_drawn_where_it_happened_on_the_users_drawing(mnist_cnn, seven):
    r = mnist_cnn.counterfactual(seven, target=1)
    pic = edit_on_original(r).astype(int)
    orange = (pic[..., 0] > 150) & (pic[..., 2] < 100)  # REMOVED_RGB: the 7's bar
    rows = np.flatnonzero(orange.any(1))
    assert orange.sum() > 50 and rows.mean() < pic.shape[0] / 2  # in the top half


# ------------------------------------------------------------------ the prior


def test_the_prior_loads_offline_and_its_card_says_how_it_was_made(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the prior must load without the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    from model.why import prior as cf_prior

    monkeypatch.setattr(cf_prior, "_PRIORS", {})  # load it afresh, here
    prior = load_prior(PRIOR)
    card = read_prior_card(PRIOR)
    assert card.file == PRIOR.name and card.training["command"].startswith(
        "python -m training.prior"
    )
    assert PriorCard.from_dict(card.to_dict()) == card
    protos = prior.prototypes
    assert protos.shape[0] == len(card.class_names) and protos.shape[2] == card.latent_dim
    z = prior.encoder(np.zeros((1, 28, 28, 1), np.float32))
    assert tuple(z.shape) == (1, card.latent_dim)
    assert PRIOR.stat().st_size < 2_000_000


def test_a_model_without_a_prior_for_its_data_says_so():
    fashion = load_classifier("fashion-cnn")
    assert prior_path_for(fashion) is None
    with pytest.raises(NoPriorError, match="python -m training.prior --dataset fashion-mnist"):
        fashion.counterfactual(drawn_digit(1), target=3)
    twin = fashion.adversarial(drawn_digit(1), target=3)  # needs no prior
    assert twin.kind == "adversarial" and twin.x.shape == (28, 28)


# ------------------------------------------------------------------ the bundled models


@pytest.mark.parametrize("name", ["mnist-cnn", "mnist-mlp"])
def test_a_drawn_seven_becomes_a_one_that_still_looks_like_a_digit(name, seven):
    clf = load_classifier(name)
    r = clf.counterfactual(seven, target=1)
    assert r.succeeded, r.message
    assert r.label == 1 and r.probabilities[1] >= P_VALID
    assert r.verdict == "digit", r.reason
    assert r.message.endswith("the verdict on it: digit."), r.message  # (words, not codes)
    assert r.removed.sum() > 0  # a 7 loses its bar on the way to a 1
    twin = clf.adversarial(seven, target=1)
    assert twin.kind == "adversarial" and twin.budget is not None


@pytest.mark.data
def test_real_test_digits_get_valid_counterfactuals(real_data_dir, mnist_cnn):
    from model.datasets import load_split, to_model_input

    test = load_split(real_data_dir / "mnist", "test")
    x = to_model_input(test.images[:12])[..., 0]
    rng = np.random.default_rng(5)
    results = [
        counterfactual(mnist_cnn, xi, int(rng.choice([c for c in range(10) if c != y])))
        for xi, y in zip(x, test.labels[:12], strict=True)
    ]
    assert sum(r.succeeded for r in results) >= 11
    # Every edit stays a digit to the judge: `digit`, or `unsure` at the stricter operating
    # point of the retrained detector (issue #21), never `not_a_digit`.
    assert all(r.verdict in ("digit", "unsure") for r in results)
    digits = sum(r.verdict == "digit" for r in results)
    assert digits >= 10
    # Without the second, more typical walk for an edit the verdict is unsure of, fewer
    # edits are digits (52 against 56 of the first 60 test digits).
    once = replace(LATENT, typical_aim=None)
    rng = np.random.default_rng(5)
    plain = [
        counterfactual(mnist_cnn, xi, int(rng.choice([c for c in range(10) if c != y])), once)
        for xi, y in zip(x, test.labels[:12], strict=True)
    ]
    assert sum(r.verdict == "digit" for r in plain) < digits
    assert LATENT.steps == 0  # the measured default: the walk alone (docs/why)


# ------------------------------------------------------------------ the command line


def test_cli_writes_the_edit_and_its_twin_like_maps(tmp_path, capsys, seven):
    import json

    from model.predict import main

    seven.save(tmp_path / "seven.png")
    out = tmp_path / "edits"
    assert (
        main([str(tmp_path / "seven.png"), "--json", "--counterfactual", "1", "--out", str(out)])
        == 0
    )
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["label"] == 7
    assert record["counterfactual"]["succeeded"] and record["counterfactual"]["label"] == 1
    assert record["adversarial"]["kind"] == "adversarial"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "seven.png.adv1.npy",
        "seven.png.adv1.png",
        "seven.png.cf1.npy",
        "seven.png.cf1.png",
    ]
    assert np.load(out / "seven.png.cf1.npy").shape == (28, 28)
    # In text, each edit's line names its picture, as a map's line names its overlay.
    assert main([str(tmp_path / "seven.png"), "--counterfactual", "1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  counterfactual: ") and lines[1].endswith(
        f"({out}/seven.png.cf1.png)"
    )
    assert lines[2].startswith("  adversarial: ") and lines[2].endswith(
        f"({out}/seven.png.adv1.png)"
    )


def test_one_compiled_search_per_model_whatever_the_input_and_target(mnist_cnn):
    from model.why.latent_search import search_for
    from model.why.prior import prior_for

    for digit, target in ((7, 1), (4, 9), (0, 6)):
        stages = mnist_cnn.preprocess_stages(drawn_digit(digit))
        counterfactual(mnist_cnn, stages, target)
        adversarial(mnist_cnn, stages, target)
    search = search_for(mnist_cnn.net, prior_for(mnist_cnn))
    assert search.latent.experimental_get_tracing_count() == 1
    assert search_for(mnist_cnn.net, None).pgd.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    ("read", "p_read", "said"),
    [
        (1, 0.786, "is read as 1, at 78.60 %: under the 90.0 %"),
        (1, 0.89996, "is read as 1, at 89.99 %: under the 90.0 %"),  # (not "90.0 %: under")
        (3, 0.5, "gives 1 a probability"),
    ],
)
def test_a_failed_search_says_which_bar_its_closest_attempt_missed(read, p_read, said):
    """ "No adversarial found ... did not work" above "The model reads 1 (78.6 %)" read as a
    contradiction (a user test): an attempt read as the target is under the bar asked."""
    from types import SimpleNamespace

    from model.prediction import Prediction
    from model.why.counterfactual import P_VALID, _result

    p = np.full(10, 0.001, np.float64)
    p[read] = p_read
    p[1] = max(p[1], 0.3)
    clf = SimpleNamespace(
        class_names=tuple(map(str, range(10))),
        reads_digits=True,
        predict_input=lambda x: Prediction(read, float(p[read]), p, str(read), "unsure", 0, None),
    )
    x = np.zeros((28, 28, 1), np.float32)
    r = _result(clf, "adversarial", "pgd-linf", 1, x, x + 0.1, None, 0.0, "It did not work.")
    assert not r.succeeded and said in r.message, r.message
    assert ("under the" in r.message) == (read == 1), r.message
    assert P_VALID == 0.9  # (the bar the words above say)


def test_the_warm_up_traces_every_search_a_first_edit_needs():
    """The app and `python -m server --warm-up` call it so that the first edit does not
    wait seconds for the traces: after it, a counterfactual that has to aim for a more
    typical digit too (both aims) and its twin trace nothing new."""
    from model.why.counterfactual import warm_up
    from model.why.latent_search import PGD, search_for
    from model.why.prior import prior_for

    clf = load_classifier("mnist-cnn")  # its own network: no search traced for it yet
    warm_up(clf)
    prior = prior_for(clf)
    searches = [
        search_for(clf.net, prior, cfg=replace(LATENT, aim=a)).latent
        for a in (LATENT.aim, LATENT.typical_aim)
    ]
    searches.append(search_for(clf.net, None, atk=PGD).pgd)
    assert [s.experimental_get_tracing_count() for s in searches] == [1, 1, 1]
    for digit, target in ((4, 9), (0, 6), (7, 1)):
        stages = clf.preprocess_stages(drawn_digit(digit))
        counterfactual(clf, stages, target)
        adversarial(clf, stages, target)
    assert [s.experimental_get_tracing_count() for s in searches] == [1, 1, 1]


def test_the_warm_up_of_a_model_without_a_prior_traces_its_twin_only():
    from model.why.counterfactual import warm_up
    from model.why.latent_search import search_for

    fashion = load_classifier("fashion-cnn")
    warm_up(fashion)
    assert search_for(fashion.net, None).pgd.experimental_get_tracing_count() == 1
