"""`--distribute`: one process (`none`), several local devices (`mirrored`), or a cluster
of worker processes (`multiworker`, read from `TF_CONFIG`).

Multi-worker training follows three rules:

- the strategy is created before any other TensorFlow state: it configures the
  collective ops of the eager context, which TensorFlow allows only at start-up;
- every worker runs the same collectives in the same order (variable creation,
  the resume broadcast below, each training step), or the cluster hangs;
- the chief (`chief`, or worker 0 when there is none) alone writes the model, the
  card and the logs; it also holds the resume state, which it broadcasts to the
  others, so that a resumed run needs no shared disk.
"""

from __future__ import annotations

import faulthandler
import json
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.augment import training_dataset
from training.recipes import AugmentConfig

KINDS = ("none", "mirrored", "multiworker")

#: Seconds a worker waits without progress (a peer joining, a step) before it gives up.
CLUSTER_TIMEOUT_ENV = "DIGITLENS_CLUSTER_TIMEOUT"
#: Generous enough for a slow worker's start-up (TensorFlow import ~5 s, more when the
#: machine is busy), short enough that a lost worker ends the run within minutes.
DEFAULT_CLUSTER_TIMEOUT_S = 120.0


#: Exit status of a worker that lost its cluster (2 is a data error).
CLUSTER_ERROR_EXIT = 3


class ClusterError(RuntimeError):
    """A multi-worker run lost a worker (or never saw one); the message says what to do."""


def cluster_timeout() -> float:
    """`$DIGITLENS_CLUSTER_TIMEOUT` in seconds, or the default."""
    raw = os.environ.get(CLUSTER_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_CLUSTER_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ClusterError(f"{CLUSTER_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ClusterError(f"{CLUSTER_TIMEOUT_ENV} must be positive, got {raw}")
    return value


#: Extra seconds before the hard backstop fires, so that the clear message comes first.
_BACKSTOP_GRACE_S = 15.0


class Watchdog:
    """Ends this process, with a message and `CLUSTER_ERROR_EXIT`, when the cluster stalls.

    TensorFlow notices a dead peer by itself during training (its coordination
    service stops getting heartbeats and aborts the collectives, seen here after
    2-25 s), but a worker that never starts leaves the others waiting inside
    `MultiWorkerMirroredStrategy()` for good, and a worker alive but stuck is never
    noticed. So every worker expects progress (the cluster assembling, each batch,
    each epoch) at least every `timeout_s` seconds.

    Two layers: a Python thread that prints what this worker was waiting for and
    exits with `CLUSTER_ERROR_EXIT`; and, for waits inside TensorFlow that hold the
    GIL (joining the cluster does), `faulthandler`'s C-level timer, re-armed by
    that thread, which dumps the stacks and exits with status 1 a little later.
    """

    def __init__(self, timeout_s: float, name: str = "this worker") -> None:
        self.timeout_s = timeout_s
        self.name = name
        self._waiting_for = "the cluster"
        self._last = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cluster-watchdog", daemon=True)

    def start(self, waiting_for: str) -> Watchdog:
        self.kick(waiting_for)
        self._arm_backstop()  # now: the main thread may block inside TensorFlow next
        self._thread.start()
        return self

    def kick(self, waiting_for: str | None = None) -> None:
        """Progress was made; `waiting_for` says what comes next (for the message)."""
        self._last = time.monotonic()
        if waiting_for:
            self._waiting_for = waiting_for

    def stop(self) -> None:
        self._stopped.set()
        faulthandler.cancel_dump_traceback_later()

    def _arm_backstop(self) -> None:
        left = self.timeout_s - (time.monotonic() - self._last)
        faulthandler.dump_traceback_later(max(left, 0.0) + _BACKSTOP_GRACE_S, exit=True)

    def _watch(self) -> None:
        while not self._stopped.wait(min(1.0, self.timeout_s / 10)):
            if time.monotonic() - self._last <= self.timeout_s:
                self._arm_backstop()
                continue
            print(
                f"error: {self.name} waited {self.timeout_s:.0f} s for {self._waiting_for}: "
                "another worker is down, stuck or never started. Check the other "
                "workers' output, then start the same command on every worker again (a "
                f"started run resumes from its last finished epoch). {CLUSTER_TIMEOUT_ENV} "
                "sets how long to wait.",
                file=sys.stderr,
                flush=True,
            )
            os._exit(CLUSTER_ERROR_EXIT)


def task_from_env() -> str:
    """`worker 1` (from `$TF_CONFIG`), for messages printed before the strategy exists."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
        return f"{task['type']} {task['index']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return "this worker"


def progress_callback(watchdog: Watchdog):
    """A Keras callback that tells `watchdog` about each finished batch and epoch."""
    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            watchdog.kick("the next training step")

        def on_test_batch_end(self, batch, logs=None):
            watchdog.kick("the next validation step")

        def on_epoch_begin(self, epoch, logs=None):
            watchdog.kick(f"the first step of epoch {epoch + 1}")

        def on_epoch_end(self, epoch, logs=None):
            watchdog.kick("the next epoch")

    return Progress()


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` whose `reduce` takes what Keras 3's `fit` passes it.

    Keras 3.15's TensorFlow trainer calls `strategy.reduce` in two ways that only
    a multi-worker strategy rejects (keras-team/keras#20585; Keras tests only
    `MirroredStrategy`, which takes the first by accident and never sees the second):

    - `_maybe_symbolic_build` reduces the first input batch, an `(x, y)` tuple of
      `PerReplica` values, in one call. `Strategy.reduce` takes no nests; with more
      than one worker the tuple reaches `convert_to_tensor` and `fit` fails with
      "Attempt to convert a value (PerReplica...) ... to a Tensor". Here each leaf
      is reduced.
    - `reduce_per_replica` averages each step's logs, which are scalars, with
      `axis=0`. A scalar has no axis 0 ("Invalid reduction dimension 0 for input
      with 0 dimensions"); the mean over replicas (`axis=None`) is what it means,
      and what the one-worker branch of that function computes.
    """

    def reduce(self, reduce_op, value, axis=None):
        parent = super()

        def reduce_one(v):
            local = self.experimental_local_results(v)[0]
            scalar = getattr(local, "shape", None) is not None and local.shape.rank == 0
            return parent.reduce(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(reduce_one, value)


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The strategy for `--distribute`; call it before any other TensorFlow work."""
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ClusterError(
                "--distribute multiworker needs TF_CONFIG (the cluster and this worker's "
                "index); start the workers with python -m training.launch, or see the README"
            )
        return MultiWorkerStrategy()
    if kind == "none":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown --distribute {kind!r}: {', '.join(KINDS)}")


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the model, card and logs (worker 0 without a chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_name(strategy: tf.distribute.Strategy) -> str:
    """`worker 1`, `chief 0`, or `local` for a one-process run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type} {resolver.task_id}"


def distributed_training_dataset(
    strategy: tf.distribute.Strategy,
    images: np.ndarray,
    labels: np.ndarray,
    global_batch: int,
    augment: AugmentConfig,
    seed: int,
):
    """Each worker reads, shuffles and augments only its own shard of the training set.

    images: (N, 28, 28, 1) float32 in [0, 1]. Worker i of W takes every W-th image
    from i, batched per replica (global batch / replicas); a step of the cluster
    sees `global_batch` images, as one process with that batch would. Letting Keras
    shard a global pipeline instead would make every worker augment every image.
    """

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        shard = slice(ctx.input_pipeline_id, None, ctx.num_input_pipelines)
        return training_dataset(
            images[shard],
            labels[shard],
            ctx.get_per_replica_batch_size(global_batch),
            augment,
            seed + ctx.input_pipeline_id,  # the shards' augmentations differ
        )

    return strategy.distribute_datasets_from_function(dataset_fn)


def _broadcast(strategy: tf.distribute.Strategy, value, chief: bool) -> tf.Tensor:
    """The chief's `value` on every worker: an all-reduce sum to which the others add 0."""
    tensor = tf.convert_to_tensor(value)
    return strategy.reduce("SUM", tensor if chief else tf.zeros_like(tensor), axis=None)


#: Files keras.callbacks.BackupAndRestore (Keras 3.15) keeps in its folder; not an API,
#: so a test checks them (tests/training/test_multiworker.py).
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"


def sync_resume_state(
    strategy: tf.distribute.Strategy,
    net,
    backup_dir: Path,
    best_so_far: float | None,
) -> tuple[int, float | None]:
    """Give every worker the chief's resume state; return (first epoch, best val_loss).

    The chief loads its backup (weights and optimizer state) if it has one and
    sends it, the epoch to start from and the best validation loss so far to every
    worker, so that all take the same steps and the same callback decisions. Call
    it on every worker, inside no `strategy.scope()` of its own.
    """
    chief = is_chief(strategy)
    with strategy.scope():
        net.optimizer.build(net.trainable_variables)  # creating variables is collective
    epoch = 0
    weights = backup_dir / BACKUP_WEIGHTS
    if chief and weights.is_file():
        net.load_weights(str(weights))
        metadata = backup_dir / BACKUP_METADATA
        epoch = int(json.loads(metadata.read_text())["epoch"]) if metadata.is_file() else 0
    resumed = int(_broadcast(strategy, epoch, chief))
    if resumed:
        for variable in [*net.weights, *net.optimizer.variables]:
            variable.assign(_broadcast(strategy, variable.value, chief))
    best = best_so_far if best_so_far is not None else math.inf
    best = float(_broadcast(strategy, np.float64(best), chief))
    return resumed, (best if math.isfinite(best) else None)
