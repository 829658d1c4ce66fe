"""The sanity check (cascading randomisation) on a tiny named model, and its command."""

import json

import numpy as np

from model.why.sanity import (
    SANITY_MAX_R,
    cascade_layers,
    rank_correlation,
    sanity_check,
)
from tests.helpers import make_idx_dataset
from tests.model.test_explain import TINY_SHAPE, tiny_model
from training.sanity import main


def test_rank_correlation_is_spearman_and_skips_flat_maps():
    a = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    assert rank_correlation(a, a**3)[0] == 1.0  # monotone: rank r is exactly 1
    assert rank_correlation(a, -a)[0] == -1.0
    assert np.isnan(rank_correlation(a, np.zeros_like(a))[0])


def test_cascade_runs_from_the_output_down_to_conv1_and_leaves_the_model_alone():
    net = tiny_model()
    assert cascade_layers(net) == ["output", "conv3", "conv2", "conv1"]
    before = [w.copy() for w in net.get_weights()]
    x = np.random.default_rng(0).random((6, *TINY_SHAPE)).astype(np.float32)
    results = sanity_check(net, x, np.arange(6) % 3, [("gradcam", "conv3"), ("saliency", None)])
    for w, v in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)  # the trained network is untouched
    assert results[0].rank_r_all < 0.9  # random weights: a different Grad-CAM map
    for r in results:
        assert [step[0] for step in r.cascade] == ["output", "conv3", "conv2", "conv1"]
        assert -1 <= r.rank_r_all <= 1 and -1 <= r.rank_r_ink <= 1
        assert r.passed == (r.rank_r_all < SANITY_MAX_R and r.rank_r_ink < SANITY_MAX_R)


def test_a_map_that_ignores_the_weights_fails(monkeypatch):
    # A "method" that returns the input itself stays identical whatever the weights.
    import model.why.attribution
    import model.why.sanity

    ink = model.why.attribution.Method("ink", "Ink", False, lambda p, x, *a, **k: x[..., 0], "", "")
    methods = {**model.why.attribution.METHODS, "ink": ink}
    monkeypatch.setattr(model.why.attribution, "METHODS", methods)
    monkeypatch.setattr(model.why.sanity, "METHODS", methods)
    x = np.random.default_rng(0).random((6, *TINY_SHAPE)).astype(np.float32)
    (r,) = sanity_check(tiny_model(), x, np.zeros(6, int), [("ink", None)])
    assert r.rank_r_all == 1.0 and not r.passed


def test_the_command_writes_the_cards_sanity_section(tmp_path, monkeypatch, capsys):
    import keras

    net = tiny_model((28, 28, 1))
    # The command loads models through the usual contract: (28, 28, 1) -> 10 classes.
    inp = net.inputs[0]
    head = keras.layers.Dense(10, activation="softmax", name="output10")(net.layers[-2].output)
    model = keras.Model(inp, head)
    path = tmp_path / "tiny.keras"
    model.save(path)
    card = {"name": "tiny", "dataset": "mnist", "metrics": {"accuracy": 0.1}}
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    make_idx_dataset(tmp_path / "data" / "mnist")
    assert main(["--model", str(path), "--data-dir", str(tmp_path / "data"), "--n", "4"]) == 0
    written = json.loads((tmp_path / "tiny.json").read_text())
    assert list(written)[:3] == ["name", "dataset", "metrics"]  # other keys keep their order
    methods = written["explanations"]["sanity"]["methods"]
    assert "gradcam@conv3" in methods and "integrated_gradients" in methods
    assert all(isinstance(v["pass"], bool) for v in methods.values())
    assert "pass" in capsys.readouterr().out.lower()
