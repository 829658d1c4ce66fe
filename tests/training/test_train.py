"""Smoke training on tiny synthetic data, and the distributed path on two logical CPUs."""

import json
import os
import textwrap

import keras
import numpy as np
import pytest

from tests.helpers import run_python
from training.train import TrainConfig, parse_args, train


def test_parse_args_overrides_defaults():
    cfg = parse_args(["--model", "fashion-cnn", "--epochs", "3", "--seed", "7", "--lr", "0.01"])
    assert (cfg.model, cfg.epochs, cfg.seed, cfg.learning_rate) == ("fashion-cnn", 3, 7, 0.01)
    assert cfg.distribute == "none"


def _smoke(tmp_path, data_dir, **overrides):
    cfg = TrainConfig(
        model="mnist-mlp",
        epochs=3,
        batch_size=32,
        data_dir=str(data_dir),
        output=str(tmp_path / "out" / "smoke.keras"),
        run_dir=str(tmp_path / "runs"),
        verbose=0,
        **overrides,
    )
    return train(cfg, command="pytest smoke")


def test_smoke_training_writes_model_and_card(tmp_path, fake_data_dir):
    path = _smoke(tmp_path, fake_data_dir)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["training"]["command"] == "pytest smoke"
    assert card["training"]["epochs_run"] == 3
    assert card["metrics"]["accuracy"] > 0.5  # synthetic bars are easy; chance is 0.1
    assert len(card["metrics"]["confusion_matrix"]) == 10
    assert card["parameters"] == keras.saving.load_model(path).count_params()
    assert path.with_suffix(".curves.png").stat().st_size > 1000
    net = keras.saving.load_model(path, safe_mode=True)
    assert getattr(net, "optimizer", None) is None  # shipped without optimizer state


def test_training_is_deterministic_with_a_seed(tmp_path, fake_data_dir):
    a = _smoke(tmp_path / "a", fake_data_dir)
    b = _smoke(tmp_path / "b", fake_data_dir)
    for wa, wb in zip(
        keras.saving.load_model(a).get_weights(),
        keras.saving.load_model(b).get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(wa, wb)


def test_resume_continues_after_an_interrupt(tmp_path, fake_data_dir, monkeypatch):
    class Interrupt(keras.callbacks.ReduceLROnPlateau):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of the 2nd epoch was written
                raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(keras.callbacks, "ReduceLROnPlateau", Interrupt)
        with pytest.raises(KeyboardInterrupt):
            _smoke(tmp_path, fake_data_dir)
    _smoke(tmp_path, fake_data_dir)  # the same command again
    rows = (tmp_path / "runs" / "smoke" / "history.csv").read_text().strip().splitlines()
    epochs = [int(r.split(",")[0]) for r in rows[1:] if not r.startswith("epoch")]
    assert epochs == [0, 1, 2]  # epochs 1-2 from the first run, only epoch 3 from the second


def test_a_new_run_in_the_same_folder_starts_afresh(tmp_path, fake_data_dir):
    _smoke(tmp_path, fake_data_dir)
    path = _smoke(tmp_path, fake_data_dir)  # finished runs leave no backup: a fresh run
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["training"]["epochs_run"] == 3
    rows = (tmp_path / "runs" / "smoke" / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3


@pytest.mark.slow
def test_smoke_training_of_the_reference_cnn(tmp_path, fake_data_dir):
    cfg = TrainConfig(
        model="mnist-cnn",
        epochs=1,
        batch_size=32,
        limit=200,
        data_dir=str(fake_data_dir),
        output=str(tmp_path / "cnn.keras"),
        run_dir=str(tmp_path / "runs"),
        verbose=0,
    )
    path = train(cfg, command="pytest")
    assert keras.saving.load_model(path).get_layer("conv3") is not None


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, fake_data_dir):
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from training.train import TrainConfig, train
        path = train(TrainConfig(model="mnist-mlp", epochs=1, batch_size=16,
                                 data_dir={str(fake_data_dir)!r}, distribute="mirrored",
                                 output={str(tmp_path / "m.keras")!r},
                                 run_dir={str(tmp_path / "runs")!r}, verbose=0,
                                 deterministic=False))
        print(json.dumps(json.load(open(path.with_suffix(".json")))["training"]["replicas"]))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = run_python(script, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "2"
