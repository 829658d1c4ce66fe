"""Behavioural tests of the models that ship in model/weights/."""

import keras
import numpy as np
import pytest

from model.datasets import load_split, locate, to_model_input
from model.runtime.artifacts import BUNDLED, resolve

#: The accuracy each bundled model must reach on its real test set.
REQUIRED_ACCURACY = {"mnist-cnn": 0.995, "fashion-cnn": 0.925, "mnist-mlp": 0.98}
CARD_FIELDS = (
    "name",
    "dataset",
    "class_names",
    "architecture",
    "preprocessing",
    "training",
    "metrics",
    "parameters",
    "versions",
    "curves",
)


@pytest.fixture(scope="module", params=BUNDLED)
def bundled(request):
    artifact = resolve(request.param)
    return artifact, keras.saving.load_model(artifact.keras_path, safe_mode=True)


def test_file_is_small_and_card_complete(bundled):
    artifact, _ = bundled
    assert artifact.keras_path.stat().st_size < 10 * 2**20
    for field in CARD_FIELDS:
        assert field in artifact.card.to_dict(), field
    assert artifact.card.training["command"].startswith("python -m training.train")
    assert (artifact.keras_path.parent / artifact.card.curves).is_file()
    assert len(artifact.class_names) == 10


def test_contract_batch_of_mnist_format_images_to_softmax(bundled):
    _, net = bundled
    x = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    p = np.asarray(net(x))
    assert p.shape == (5, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.data
def test_test_set_accuracy_meets_the_table(bundled, real_data_dir):
    artifact, net = bundled
    test = load_split(locate(artifact.card.dataset, real_data_dir), "test")
    probs = net.predict(to_model_input(test.images), batch_size=1000, verbose=0)
    accuracy = float((probs.argmax(axis=1) == test.labels).mean())
    assert accuracy >= REQUIRED_ACCURACY[artifact.name]
    # The card tells the truth about the shipped file.
    assert accuracy == pytest.approx(artifact.card.accuracy, abs=1e-4)


def test_the_shipped_counterfactual_prior_is_named_in_the_cards_with_its_command():
    """What ships for a kind of "why" (the counterfactuals' prior) is recorded in the card of
    each model of its data set, with the command that made it, and the file is there."""
    from model.runtime.artifacts import WEIGHTS_DIR, resolve

    for name in ("mnist-cnn", "mnist-mlp"):
        prior = (resolve(name).card.explanations or {})["counterfactual_prior"]
        assert (WEIGHTS_DIR / prior["file"]).is_file() and (WEIGHTS_DIR / prior["card"]).is_file()
        assert prior["command"].startswith("python -m training.prior")
