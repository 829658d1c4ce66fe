"""Train one named model: `python -m training.train --model mnist-cnn`.

Seeded and deterministic, augmented on the fly, early-stopped on a validation
split of the training set with the best weights restored, resumable after an
interrupt (run the same command again), and finished by an evaluation that
writes the model card beside the `.keras` file.

Kept as one file: a training run reads top to bottom here, from the config to the
card, in the order it happens (distribution is `training.distribute`, augmentation
`training.augment`, evaluation `training.evaluate`).
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from model.runtime.artifacts import WEIGHTS_DIR
from model.runtime.card import Card, Preprocessing, read_card, write_card
from training.recipes import RECIPES

#: The program named in --help and in errors (`python -m digitlens` passes its own).
PROG = "python -m training.train"


@dataclass(frozen=True)
class TrainConfig:
    model: str = "mnist-cnn"
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 42
    val_fraction: float = 0.1
    data_dir: str | None = None
    output: str | None = None  # default: model/weights/<model>.keras
    run_dir: str = "runs"
    limit: int | None = None  # train on the first N training images (smoke runs)
    distribute: str = "none"  # none | mirrored | multiworker
    tensorboard: bool = False
    deterministic: bool = True
    verbose: int = 2


def _best_so_far(log_path: Path, monitor: str = "val_loss") -> float | None:
    """Best monitored value in an earlier, interrupted run's CSV log (for resuming)."""
    if not log_path.is_file():
        return None
    with log_path.open() as f:
        values = [float(row[monitor]) for row in csv.DictReader(f) if row.get(monitor)]
    return min(values) if values else None


def _read_history(log_path: Path) -> dict[str, list[float]]:
    with log_path.open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0] if k != "epoch"} if rows else {}


#: Validation batch (evaluation only, so larger than any training batch).
VAL_BATCH = 512

#: Flags that only say where files are on the machine that trained: the card records
#: a placeholder (or nothing), so no path of ours reaches a user of the model.
PATH_FLAGS = {"--data-dir": "DATA_DIR"}
WHERE_FLAGS = ("--output", "--run-dir")


def neutral_command(argv: list[str]) -> str:
    """The training command for the card, with machine-specific paths left out.

    `--data-dir /home/me/data` becomes `--data-dir DATA_DIR`; `--output` and
    `--run-dir` (where the files went, not how the model was made) are dropped.
    """
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        flag, eq, value = arg.partition("=")
        if flag in WHERE_FLAGS:
            if not eq:
                next(args, None)
            continue
        if flag in PATH_FLAGS:
            if not eq:
                next(args, None)
            out += [flag, PATH_FLAGS[flag]]
            continue
        out.append(arg)
    return "python -m training.train " + shlex.join(out)


def train(cfg: TrainConfig, command: str | None = None) -> Path | None:
    """Train, save `<output>.keras` (no optimizer state) and its card; return the path.

    On a multi-worker run only the chief writes and returns the path; the other
    workers return None.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from model.architecture import build_from_config
    from model.datasets import to_model_input
    from training.augment import training_dataset
    from training.data import load_dataset
    from training.distribute import (
        CLUSTER_TIMEOUT_ENV,
        Watchdog,
        cluster_timeout,
        distributed_training_dataset,
        is_chief,
        is_multi_worker,
        make_strategy,
        task_from_env,
        worker_name,
    )
    from training.evaluate import evaluate_and_write_card

    # First, before any other TensorFlow state: a multi-worker strategy configures the
    # eager context's collective ops, which TensorFlow allows only at start-up.
    watchdog = None
    if cfg.distribute == "multiworker":  # a worker that never comes must not hang the rest
        watchdog = Watchdog(cluster_timeout(), task_from_env())
        print(
            f"{watchdog.name}: joining the cluster (waiting up to {watchdog.timeout_s:.0f} s "
            f"for every worker, then exits; {CLUSTER_TIMEOUT_ENV} sets it)",
            flush=True,
        )
        watchdog.start("every worker to join the cluster")
    strategy = make_strategy(cfg.distribute)
    multi_worker = is_multi_worker(strategy)
    if watchdog:
        watchdog.name = worker_name(strategy)
        watchdog.kick("the first training step")

    recipe = RECIPES[cfg.model]
    epochs = cfg.epochs or recipe.epochs
    batch_size = cfg.batch_size or recipe.batch_size
    lr = cfg.learning_rate or recipe.learning_rate

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()

    data = load_dataset(recipe.dataset, cfg.data_dir, cfg.val_fraction, cfg.seed)
    x_train, y_train = to_model_input(data.train.images), data.train.labels
    if cfg.limit:
        x_train, y_train = x_train[: cfg.limit], y_train[: cfg.limit]
    x_val, y_val = to_model_input(data.val.images), data.val.labels
    if cfg.limit:
        x_val, y_val = (
            x_val[: max(cfg.limit // 5, batch_size)],
            y_val[: max(cfg.limit // 5, batch_size)],
        )

    if multi_worker:
        # Keras all-reduces the first batch of each dataset across workers (to learn its
        # shapes), and collectives take no uint8.
        y_train, y_val = y_train.astype(np.int32), y_val.astype(np.int32)
    global_batch = batch_size * strategy.num_replicas_in_sync
    steps = max(len(y_train) // global_batch, 1)
    if multi_worker:
        train_ds = distributed_training_dataset(
            strategy, x_train, y_train, global_batch, recipe.augment, cfg.seed
        )
    else:
        train_ds = training_dataset(x_train, y_train, global_batch, recipe.augment, cfg.seed)
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(VAL_BATCH)
    if multi_worker:  # in-memory arrays have no files to shard: each worker takes batches
        options = tf.data.Options()
        shard_by = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = shard_by
        val_ds = val_ds.with_options(options)

    with strategy.scope():
        net = build_from_config(recipe.architecture.to_dict())
        net.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    output = Path(cfg.output or WEIGHTS_DIR / f"{cfg.model}.keras")
    chief = is_chief(strategy)
    if not chief:  # the other workers train in step but keep their files to themselves
        with tempfile.TemporaryDirectory(prefix="digitlens-worker-") as scratch:
            _fit(
                cfg, strategy, net, train_ds, val_ds, steps, epochs, recipe, Path(scratch), watchdog
            )
        return None
    run_dir = Path(cfg.run_dir) / output.stem
    seconds, best_path, log_path, speed = _fit(
        cfg, strategy, net, train_ds, val_ds, steps, epochs, recipe, run_dir, watchdog
    )
    net.load_weights(str(best_path))

    # Save a fresh, uncompiled copy: no optimizer state, half the size, loads anywhere.
    clean = build_from_config(recipe.architecture.to_dict())
    clean.set_weights(net.get_weights())
    output.parent.mkdir(parents=True, exist_ok=True)
    clean.save(output)

    history = _read_history(log_path)
    val_losses = history.get("val_loss", [])
    card = Card(
        name=output.stem,
        dataset=recipe.dataset,
        class_names=tuple(data.class_names),
        architecture=recipe.architecture.to_dict(),
        preprocessing=Preprocessing(
            recipe=recipe.preprocessing,
            input="(N, 28, 28, 1) float32 in [0, 1], white ink on black",
        ),
        training={
            "command": command or neutral_command(sys.argv[1:]),
            "seed": cfg.seed,
            "epochs_run": len(val_losses),
            "best_epoch": int(np.argmin(val_losses)) + 1 if val_losses else None,
            "batch_size": global_batch,
            "learning_rate": lr,
            "validation_fraction": cfg.val_fraction,
            "train_samples": int(len(y_train)),
            "augmentation": recipe.augment.to_dict(),
            "distribute": cfg.distribute,
            "replicas": strategy.num_replicas_in_sync,
            "seconds": round(seconds, 1),
            # Training images per second of the whole cluster (median epoch, the first
            # one, which traces the step function, left out where there are more).
            "images_per_second": speed,
            "history": history,
        },
    )
    write_card(output, card)
    evaluate_and_write_card(output, data_dir=cfg.data_dir)
    _export_fast_runtime(output)
    return output


def _fit(cfg, strategy, net, train_ds, val_ds, steps, epochs, recipe, run_dir: Path, watchdog):
    """Run `net.fit` with logs, best checkpoint and backup in `run_dir`; resume if it can.

    Returns (seconds, best weights path, CSV log path, training images/s). On a
    multi-worker run every worker calls this, the chief with the real run folder and
    the others with a scratch one, and the chief's resume state is broadcast first.
    """
    import keras
    import tensorflow as tf

    from training.distribute import (
        ClusterError,
        is_multi_worker,
        progress_callback,
        sync_resume_state,
    )

    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "history.csv"
    best_path = run_dir / "best.weights.h5"
    backup_dir = run_dir / "backup"
    if not backup_dir.exists():
        # No interrupted run to resume: start afresh, not from an older run's log and best.
        log_path.unlink(missing_ok=True)
        best_path.unlink(missing_ok=True)
    best_so_far = _best_so_far(log_path)
    initial_epoch = 0
    multi_worker = is_multi_worker(strategy)
    if multi_worker:
        initial_epoch, best_so_far = sync_resume_state(strategy, net, backup_dir, best_so_far)
    callbacks = [
        # Resume: an interrupted run restarts from its last finished epoch.
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        # Logged right after the backup, so that a resumed run's log has each epoch once.
        keras.callbacks.CSVLogger(str(log_path), append=True),
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.patience),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.3, patience=recipe.lr_patience, min_lr=1e-5, verbose=1
        ),
    ]
    if cfg.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    if watchdog:
        callbacks.append(progress_callback(watchdog))

    global_batch = (cfg.batch_size or recipe.batch_size) * strategy.num_replicas_in_sync
    speed = _epoch_speed(steps * global_batch)
    callbacks.append(speed)
    start = time.time()
    try:
        net.fit(
            train_ds,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=val_ds,
            callbacks=callbacks,
            verbose=cfg.verbose,
            shuffle=False,
        )
    except (
        tf.errors.UnavailableError,
        tf.errors.DeadlineExceededError,
        tf.errors.FailedPreconditionError,  # a peer restarted under the others
        tf.errors.CancelledError,
        tf.errors.AbortedError,
        tf.errors.InternalError,
    ) as exc:
        if not multi_worker:
            raise
        raise ClusterError(
            f"lost contact with another worker during training ({_root_cause(exc)}). Start "
            "the same command on every worker again: it resumes from the chief's last "
            "finished epoch."
        ) from exc
    finally:
        if watchdog:  # what follows (evaluation, export) is the chief's alone
            watchdog.stop()
    return time.time() - start, best_path, log_path, speed.median()


def _epoch_speed(images_per_epoch: int):
    """A Keras callback timing each epoch's training steps (validation excluded)."""
    import keras

    class EpochSpeed(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rates: list[float] = []
            self._start: float | None = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_test_begin(self, logs=None):  # validation starts: the steps are done
            if self._start is not None:
                self.rates.append(images_per_epoch / (time.perf_counter() - self._start))
                self._start = None

        def on_epoch_end(self, epoch, logs=None):
            self.on_test_begin()  # an epoch without validation

        def median(self) -> float | None:
            rates = self.rates[1:] or self.rates
            return round(statistics.median(rates), 1) if rates else None

    return EpochSpeed()


#: Words of the line that says why TensorFlow aborted a collective (its message also
#: holds the stack where the failing op was defined).
_CAUSE_WORDS = ("unhealthy", "heartbeat", "aborted", "connection", "unavailable", "deadline")
_MAX_CAUSE_CHARS = 300


def _root_cause(exc: Exception) -> str:
    """The most telling line of a TensorFlow error, e.g. 'task 1 stopped sending heartbeats'."""
    lines = [line.strip() for line in str(getattr(exc, "message", exc)).splitlines()]
    lines = [line for line in lines if line]
    cause = next((ln for ln in lines if any(w in ln.lower() for w in _CAUSE_WORDS)), None)
    return f"{type(exc).__name__}: {(cause or (lines or [''])[0])[:_MAX_CAUSE_CHARS]}"


def _export_fast_runtime(output: Path) -> None:
    """Ship the ONNX export beside the model, so prediction takes the fast path."""
    try:
        from model.runtime.export import export_onnx

        export_onnx(output)
    except ImportError as exc:  # tf2onnx is a development dependency
        print(
            f"note: no ONNX export ({exc}); run python -m model.runtime.export --model {output}",
            file=sys.stderr,
        )


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> TrainConfig:
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=sorted(RECIPES), default=TrainConfig.model)
    p.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--batch-size", type=int, help="per-replica batch size")
    p.add_argument("--learning-rate", "--lr", type=float, dest="learning_rate")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--val-fraction", type=float, default=TrainConfig.val_fraction)
    p.add_argument("--data-dir", help="folder with the IDX .gz files (or $DIGITLENS_DATA_DIR)")
    p.add_argument("--output", help="where to write the .keras file (default model/weights/)")
    p.add_argument("--run-dir", default=TrainConfig.run_dir, help="logs, checkpoints, backups")
    p.add_argument("--limit", type=int, help="use only the first N training images (smoke test)")
    p.add_argument("--distribute", choices=["none", "mirrored", "multiworker"], default="none")
    p.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs")
    p.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="allow non-deterministic (possibly faster) kernels",
    )
    p.add_argument("--verbose", type=int, default=TrainConfig.verbose, choices=[0, 1, 2])
    return replace(TrainConfig(), **vars(p.parse_args(argv)))


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    cfg = parse_args(argv, prog)
    from model.datasets import DatasetError
    from training.distribute import CLUSTER_ERROR_EXIT, ClusterError

    try:
        path = train(cfg)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CLUSTER_ERROR_EXIT
    if path is None:
        print("done: this worker trained in step with the chief, which writes the model")
        return 0
    print(f"saved {path} (test accuracy {read_card(path).accuracy:.4f})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
