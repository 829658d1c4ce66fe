"""A model without a measured default (a user's own `.keras` file, no card) chooses its
default map by the trust score on the first inputs it explains, or on a folder of images;
the choice is kept per model object and made safely from many threads (issue #21, item 3).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from model import load_classifier
from model.why import choice, defaults
from model.why.attribution import (
    FALLBACK_METHOD,
    available_methods,
    default_cam_layer,
    default_method,
)
from model.why.report import report
from tests.model.test_explain import tiny_model

SHAPE = (16, 16, 3)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    """A tiny named CNN saved without a card: what a user uploads."""
    path = tmp_path_factory.mktemp("own") / "own.keras"
    tiny_model(SHAPE).save(path)
    return path


@pytest.fixture
def tiny(tiny_path):
    return load_classifier(tiny_path)  # a fresh model object per test: nothing measured


def inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *SHAPE)).astype(np.float32)


def test_without_a_card_the_default_is_measured_on_the_first_inputs(tiny):
    assert not tiny.card.default_explanation and choice.measures_its_own_default(tiny)
    assert default_method(tiny) == (FALLBACK_METHOD, default_cam_layer(tiny))  # nothing seen
    assert "fixed fallback until" in choice.why_default(tiny)
    xs = inputs(choice.CHOICE_INPUTS + 2)
    seen_at = {}
    for i, x in enumerate(xs, 1):
        r = report(tiny, x)  # the default map: the model sees this input
        chosen = defaults.measured(tiny)
        seen_at[i] = chosen.inputs
        # what the report used is the choice made on the inputs so far
        assert (r.explanation.method, r.explanation.layer) == (chosen.method, chosen.layer)
    # ranked again at 1, 2, 4 and 8 inputs, then final
    assert [seen_at[i] for i in sorted(seen_at)] == [1, 2, 2, 4, 4, 4, 4, 8, 8, 8]
    chosen = defaults.measured(tiny)
    assert chosen.final and chosen.inputs == choice.CHOICE_INPUTS
    assert default_method(tiny) == (chosen.method, chosen.layer)
    # every method the model supports was scored, best first, and the best one won
    assert len(chosen.scores) == len(available_methods(tiny))
    scores = [s for _, s in chosen.scores]
    assert scores == sorted(scores, reverse=True)
    assert chosen.scores[0][0] == choice.key(chosen.method, chosen.layer)
    assert f"chosen on {choice.CHOICE_INPUTS} inputs: best trust score" in chosen.reason
    assert chosen.reason in choice.why_default(tiny)


def test_the_choice_belongs_to_one_model_object(tiny, tiny_path):
    other = load_classifier(tiny_path)
    report(tiny, inputs(1)[0])
    assert defaults.measured(tiny) is not None and defaults.measured(other) is None
    assert default_method(other) == (FALLBACK_METHOD, default_cam_layer(other))


def test_many_threads_observe_one_model_safely(tiny):
    xs = inputs(12, seed=3)
    errors = []

    def explain_some(part):
        try:
            for x in part:
                choice.observe(tiny, x)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=explain_some, args=(xs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    chosen = defaults.measured(tiny)
    assert chosen.final and chosen.inputs == choice.CHOICE_INPUTS  # never more, never less


def test_a_folder_the_user_names_gives_a_final_choice(tiny, tmp_path):
    folder = tmp_path / "my-images"
    folder.mkdir()
    for i, x in enumerate(inputs(5, seed=9)):
        Image.fromarray((x * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    chosen = choice.choose_on_folder(tiny, folder)
    assert chosen.final and chosen.inputs == 5 and "my-images" in chosen.source
    report(tiny, inputs(1)[0])  # later inputs do not change a final choice
    assert defaults.measured(tiny) is chosen
    assert default_method(tiny) == (chosen.method, chosen.layer)


def test_a_model_whose_card_names_its_default_keeps_it(mnist_cnn):
    before = default_method(mnist_cnn)
    assert choice.observe(mnist_cnn, np.zeros(mnist_cnn.input_shape, np.float32)) is None
    assert defaults.measured(mnist_cnn) is None and default_method(mnist_cnn) == before
    assert "its card" in choice.why_default(mnist_cnn)


def test_the_command_line_chooses_the_default_on_a_named_folder(tiny_path, tmp_path):
    from tests.model.test_predict_cli import cli

    folder = tmp_path / "mine"
    folder.mkdir()
    for i, x in enumerate(inputs(3, seed=4)):
        Image.fromarray((x * 255).astype(np.uint8)).save(folder / f"{i}.png")
    out = cli(
        folder,
        "--model",
        tiny_path,
        "--choose-default-on",
        folder,
        "--explain",
        "--out",
        tmp_path / "o",
    )
    assert out.returncode == 0, out.stderr
    assert "chosen on 3 inputs: best trust score" in out.stderr, out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    out = cli(folder, "--model", tiny_path, "--choose-default-on", empty)
    assert out.returncode == 2 and "no image in empty" in out.stderr, out.stderr


def test_large_inputs_keep_the_fallback_unless_a_folder_is_named(tmp_path, tiny):
    """Ranking every method on an ImageNet-sized input takes minutes: not mid-request."""
    side = int(np.sqrt(choice.MAX_MEASURED_INPUT / 3)) + 8
    path = tmp_path / "big.keras"
    tiny_model((side, side, 3)).save(path)
    big = load_classifier(path)
    assert not choice.measures_its_own_default(big)
    assert choice.observe(big, np.zeros(big.input_shape, np.float32)) is None
    assert "too large" in choice.why_default(big)
    # an input of the wrong size is left to explain() to refuse
    assert choice.observe(tiny, np.zeros(7, np.float32)) is None
