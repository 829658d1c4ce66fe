"""Multi-worker training with real worker processes on loopback, and the launcher.

The end-to-end tests start real `python -m training.train --distribute multiworker`
processes (two TensorFlow servers talking gRPC over 127.0.0.1) on synthetic IDX data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, make_idx_dataset
from training.distribute import (
    BACKUP_METADATA,
    BACKUP_WEIGHTS,
    CLUSTER_ERROR_EXIT,
    CLUSTER_TIMEOUT_ENV,
    ClusterError,
    cluster_timeout,
    make_strategy,
)
from training.launch import free_ports, supervise, tf_config, train_command

#: Synthetic data: enough images for several steps per epoch at a global batch of 32.
N_TRAIN, N_TEST = 600, 200
GLOBAL_BATCH, WORKERS = 32, 2
#: Two workers and one process see the same data and steps; on these easy bars both
#: end near 100 %, and a broken split of the data or of the gradients falls far below.
ACCURACY_GAP = 0.1
#: A short cluster timeout, so that a lost worker ends the other quickly whatever
#: TensorFlow's heartbeats do; the bound below adds start-up and the fallback's grace.
CLUSTER_TIMEOUT_S = 30
LIVENESS_BOUND_S = CLUSTER_TIMEOUT_S + 60


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    make_idx_dataset(tmp_path / "data" / "mnist", n_train=N_TRAIN, n_test=N_TEST)
    return tmp_path / "data"


def _train_args(data_dir: Path, out: Path, epochs: int, batch: int) -> list[str]:
    return [
        "--model", "mnist-mlp",
        "--data-dir", str(data_dir),
        "--epochs", str(epochs),
        "--batch-size", str(batch),
        "--output", str(out / "model" / "mlp.keras"),
        "--run-dir", str(out / "runs"),
    ]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **extra}


def _accuracy(keras_path: Path, data_dir: Path) -> float:
    """Accuracy on the synthetic test split of a model loaded through `load_classifier`."""
    from model import load_classifier
    from model.datasets import load_split, to_model_input

    test = load_split(data_dir / "mnist", "test")
    x = to_model_input(test.images)  # (N, 28, 28, 1) float32 in [0, 1]
    clf = load_classifier(keras_path)
    first = clf.predict_input(x[0])
    assert first.class_name == clf.class_names[first.label]
    return float((clf.probabilities(x).argmax(axis=1) == test.labels).mean())


def test_train_command_runs_multiworker_only():
    assert train_command(["--epochs", "1"])[-2:] == ["--distribute", "multiworker"]
    assert train_command(["--distribute=multiworker"]).count("--distribute=multiworker") == 1
    with pytest.raises(ValueError, match="mirrored"):
        train_command(["--distribute", "mirrored"])
    config = json.loads(tf_config(["127.0.0.1:1", "127.0.0.1:2"], 1))
    assert config["task"] == {"type": "worker", "index": 1}
    assert len(set(free_ports(3))) == 3


def test_multiworker_without_a_cluster_says_what_to_do(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ClusterError, match="TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv(CLUSTER_TIMEOUT_ENV, "soon")
    with pytest.raises(ClusterError, match="not a number"):
        cluster_timeout()
    monkeypatch.setenv(CLUSTER_TIMEOUT_ENV, "45")
    assert cluster_timeout() == 45.0


def test_keras_backup_files_are_where_the_resume_broadcast_reads_them(tmp_path):
    import keras

    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    net.compile(optimizer="adam", loss="mse")
    backup = keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    net.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, callbacks=[backup], verbose=0)
    assert (tmp_path / BACKUP_WEIGHTS).is_file()
    assert json.loads((tmp_path / BACKUP_METADATA).read_text())["epoch"] == 2


def test_launcher_stops_the_others_when_one_fails(capsys):
    sleeper = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]
    failing = [sys.executable, "-c", "import sys; print('bad input'); sys.exit(5)"]
    start = time.monotonic()
    status = supervise([sleeper, failing], [dict(os.environ)] * 2)
    out = capsys.readouterr().out
    assert status == 5  # the failure, not the signal the launcher sent to the chief
    assert time.monotonic() - start < 60  # not the sleeper's 120 s
    assert "[worker 1] bad input" in out and "[worker 0] up" in out
    assert "worker 1 exited with status 5; stopping the others" in out


@pytest.mark.slow
@pytest.mark.e2e
def test_two_workers_train_like_one_process(tmp_path, data_dir):
    from training.train import TrainConfig, train

    multi = tmp_path / "multi"
    cmd = [sys.executable, "-m", "training.launch", "--workers", str(WORKERS), "--"]
    cmd += _train_args(data_dir, multi, epochs=2, batch=GLOBAL_BATCH // WORKERS)
    run = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "[launch] exit statuses: worker 0: 0, worker 1: 0" in run.stdout

    # The chief alone wrote: one model, one card, one log; worker 1 nothing.
    written = sorted(p.relative_to(multi).as_posix() for p in multi.rglob("*") if p.is_file())
    assert [p for p in written if p.endswith(".keras")] == ["model/mlp.keras"]
    assert [p for p in written if p.endswith(".json")] == ["model/mlp.json"]
    assert [p for p in written if p.endswith(".csv")] == ["runs/mlp/history.csv"]
    card = json.loads((multi / "model" / "mlp.json").read_text())
    assert card["training"]["replicas"] == WORKERS
    assert card["training"]["batch_size"] == GLOBAL_BATCH
    assert card["training"]["epochs_run"] == 2
    assert card["training"]["images_per_second"] > 0

    one = train(
        TrainConfig(
            model="mnist-mlp",
            epochs=2,
            batch_size=GLOBAL_BATCH,
            data_dir=str(data_dir),
            output=str(tmp_path / "one" / "mlp.keras"),
            run_dir=str(tmp_path / "one" / "runs"),
            verbose=0,
        ),
        command="pytest",
    )
    multi_acc = _accuracy(multi / "model" / "mlp.keras", data_dir)
    one_acc = _accuracy(one, data_dir)
    assert multi_acc > 0.5  # chance is 0.1
    assert abs(multi_acc - one_acc) <= ACCURACY_GAP, (multi_acc, one_acc)


def _start_workers(args: list[str], log_dir: Path) -> list[subprocess.Popen]:
    hosts = [f"127.0.0.1:{p}" for p in free_ports(WORKERS)]
    scratch = log_dir / "tmp"  # a killed worker cannot delete its scratch folder
    scratch.mkdir(exist_ok=True)
    env = _env(**{CLUSTER_TIMEOUT_ENV: str(CLUSTER_TIMEOUT_S), "TMPDIR": str(scratch)})
    procs = []
    for i in range(WORKERS):
        log = (log_dir / f"worker{i}.log").open("w")
        procs.append(
            subprocess.Popen(
                train_command(args),
                cwd=ROOT,
                env={**env, "TF_CONFIG": tf_config(hosts, i)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def _wait_for(path: Path, text: str, procs: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        if any(p.poll() is not None for p in procs):
            raise AssertionError(f"a worker ended early:\n{path.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen in {timeout} s:\n{path.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.e2e
def test_a_killed_worker_ends_the_other_and_the_run_resumes(tmp_path, data_dir):
    epochs = 12  # the kill comes in epoch 3: mid-run, the chief cannot finish without it
    out = tmp_path / "run"
    args = _train_args(data_dir, out, epochs=epochs, batch=GLOBAL_BATCH // WORKERS)
    procs = _start_workers(args, tmp_path)
    try:
        _wait_for(tmp_path / "worker0.log", f"Epoch 3/{epochs}", procs, timeout=180)
        procs[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        status = procs[0].wait(timeout=LIVENESS_BOUND_S)
        waited = time.monotonic() - killed_at
    finally:
        for p in procs:
            p.kill()
            p.wait()
    log = (tmp_path / "worker0.log").read_text()
    assert status == CLUSTER_ERROR_EXIT, log[-3000:]
    assert "lost contact with another worker" in log or "another worker is down" in log
    print(f"worker 0 ended {waited:.1f} s after worker 1 was killed")
    assert waited < LIVENESS_BOUND_S
    assert not list(out.rglob("*.keras"))  # the chief wrote no half-trained model

    # The same command again resumes on both workers from the chief's last epoch.
    done = [int(r.split(",")[0]) for r in (out / "runs" / "mlp" / "history.csv").read_text()
            .strip().splitlines()[1:]]  # fmt: skip
    assert done, "the chief logged no finished epoch before the kill"
    cmd = [sys.executable, "-m", "training.launch", "--workers", str(WORKERS), "--", *args]
    run = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    for worker in range(WORKERS):
        first = next(ln for ln in run.stdout.splitlines() if f"[worker {worker}] Epoch" in ln)
        assert f"Epoch {len(done) + 1}/{epochs}" in first, first
    rows = (out / "runs" / "mlp" / "history.csv").read_text().strip().splitlines()[1:]
    epochs_logged = [int(r.split(",")[0]) for r in rows]
    assert epochs_logged == list(range(len(epochs_logged)))  # each epoch once, in order
    assert len(epochs_logged) > len(done)
