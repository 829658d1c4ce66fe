"""fashion-cnn's own detector (`training.ood_items`): a drawn digit is not a Fashion-MNIST
item (it was "Sandal, 99.5 %"), its own images are answered, and the digit rule "no digit
has three loops" does not apply to it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from model import load_classifier
from model.errors import ImageError
from model.judge.verdict import LOOP_PENALTY, combined_scores, count_loops, read_ood_card
from model.runtime.artifacts import WEIGHTS_DIR
from tests.helpers import drawn_digit


@pytest.fixture(scope="module")
def fashion():
    return load_classifier("fashion-cnn")


def test_fashion_cnn_has_its_own_detector_without_the_loop_rule(fashion):
    card = read_ood_card(fashion.artifact.keras_path)
    assert card is not None and card.loop_penalty == 0.0 and card.softmax_weight == 0.0
    assert fashion.judge.method == "detector"
    rule = fashion.judge.rule()
    assert rule["method"] == "detector" and rule["loop_penalty"] == 0.0
    # the digit models keep theirs (their cards predate the field)
    assert load_classifier("mnist-cnn").judge.rule()["loop_penalty"] == LOOP_PENALTY


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
def test_a_drawn_digit_is_not_a_fashion_item(fashion, digit):
    p = fashion.predict(drawn_digit(digit))
    assert p.verdict == "not_a_digit", (digit, p.label, p.reason)
    assert p.reason.startswith("This does not look like a Fashion-MNIST item: more like a digit")


def test_mnist_digits_are_not_answered_as_fashion_items(fashion, real_data_dir):
    from model.datasets import load_split, locate

    test = load_split(locate("mnist", real_data_dir), "test")
    verdicts = [p.verdict for p in fashion.predict_batch(list(test.images[:300]))]
    assert np.mean([v == "digit" for v in verdicts]) <= 0.02  # max-softmax answered 61 %


def test_three_rings_are_not_penalised_as_they_are_for_digits(fashion):
    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    for cx in (60, 140, 220):
        d.ellipse((cx - 35, 100, cx + 35, 180), outline=255, width=14)
    x = fashion.preprocess(img)
    assert count_loops(x) == 3
    probs = fashion.probabilities(x[None])
    logodds = fashion.judge.detector.scores(x[None])
    expected = combined_scores(logodds, probs, 0.0)  # nothing added for the loops
    assert fashion.judge.scores(x[None], probs) == pytest.approx(expected, abs=1e-6)
    assert fashion.judge.scores(np.stack([x, x]), np.repeat(probs, 2, 0)) == pytest.approx(
        np.repeat(expected, 2), abs=1e-6
    )


def test_its_own_test_images_are_answered(fashion, real_data_dir):
    from model.datasets import load_split, locate

    test = load_split(locate("fashion-mnist", real_data_dir), "test")
    idx = np.random.default_rng(5).choice(len(test), 300, replace=False)
    verdicts = []
    for a in test.images[idx]:
        try:
            verdicts.append(fashion.predict(a).verdict)
        except ImageError:  # ~1 % of its images are refused as noise (fine textures)
            verdicts.append("refused")
    assert np.mean([v == "digit" for v in verdicts]) >= 0.8  # 86 % of 1,000 in the report


def test_the_training_command_equips_a_copy_of_the_model(tmp_path, real_data_dir):
    """`python -m training.ood_items` writes the detector and its card beside the model it
    names (here a copy; smoke-sized): the next load judges with it."""
    from training.ood_items import main

    for suffix in (".keras", ".json", ".onnx"):
        shutil.copy(WEIGHTS_DIR / f"fashion-cnn{suffix}", tmp_path / f"fashion-cnn{suffix}")
    keras_path = tmp_path / "fashion-cnn.keras"
    assert load_classifier(keras_path).judge.method == "max-softmax"
    argv = ["--model", str(keras_path), "--data-dir", str(real_data_dir)]
    assert main([*argv, "--scale", "0.005", "--epochs", "1"]) == 0
    card = json.loads((tmp_path / "fashion-cnn.ood.json").read_text())
    assert card["file"] == "fashion-cnn.ood.onnx" and card["loop_penalty"] == 0.0
    assert card["trained"]["command"].startswith("python -m training.ood_items --model fashion-cnn")
    assert load_classifier(keras_path).judge.method == "detector"
