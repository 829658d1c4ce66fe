"""Engines run `AuditBatch` over the rows: a local loop, or Ray Data across a cluster.

Both carry each row's position (`row`) through the batch and sort by it at the end, so
their tables are the same rows in the same order (Ray does not keep order).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from model.audit.batch import BATCH_SIZE, AuditBatch, AuditConfig
from model.audit.inputs import Rows
from model.errors import DigitLensError

ENGINES = ("local", "ray")
#: Restarts of a dead actor, and retries of the batch it held.
ACTOR_RETRIES = 3
#: Where Ray finds a cluster unless `--ray-address` says (Ray's own variable).
RAY_ADDRESS_ENV = "RAY_ADDRESS"
#: What each Ray worker process imports as it starts (Ray's `preload_python_modules`,
#: read from the environment of the Ray that `start_ray` starts): the workers Ray starts
#: ahead of time, one per CPU, then take an actor with Ray Data and DigitLens already
#: imported, which a fresh actor otherwise spends ~0.5 s of 2 cores on. A cluster
#: started elsewhere reads it from its own nodes' environment (deploy/k8s).
PRELOAD_ENV = "RAY_preload_python_modules"
PRELOAD_MODULES = "ray.data,model.audit.engines"


class EngineError(DigitLensError):
    """An engine cannot run here (e.g. Ray is not installed or no cluster answers)."""


def _batches(rows: Rows, size: int):
    columns = {**rows.columns(), "row": np.arange(len(rows), dtype=np.int64)}
    for start in range(0, len(rows), size):
        yield {k: v[start : start + size] for k, v in columns.items()}


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _in_row_order(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not columns:
        return columns
    order = np.argsort(np.asarray(columns["row"]), kind="stable")
    return {k: np.asarray(v)[order] for k, v in columns.items() if k != "row"}


def default_workers(rows: int, batch_size: int = BATCH_SIZE) -> int:
    """One process per CPU, but no more processes than batches (a small audit runs here)."""
    return max(1, min(os.cpu_count() or 1, -(-rows // batch_size)))


class RowAuditBatch(AuditBatch):
    """AuditBatch that hands each row's position back, for every engine to sort by (worker
    processes and Ray Data's blocks finish in any order)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = super().__call__(batch)
        out["row"] = np.asarray(batch["row"], np.int64)
        return out


# One RowAuditBatch per worker process, made by `_start_worker` when the process starts.
_WORKER: list[RowAuditBatch] = []


def _start_worker(config: AuditConfig) -> None:
    _WORKER[:] = [RowAuditBatch(config)]


def _work(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return _WORKER[0](batch)


def _context():
    """Fresh worker processes that start fast: forked from a server process that has
    already imported the engine (never from this one, whose ONNX Runtime and TensorFlow
    threads a fork would copy half-alive); spawned where there is no fork."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["model.audit.batch", "model.load"])
        return ctx
    return mp.get_context("spawn")


def run_local(
    rows: Rows,
    config: AuditConfig,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Every batch on this machine; `progress(n)` after each.

    workers: processes (default `default_workers`: one per CPU). Reading and
    preprocessing an image is Python and NumPy under the GIL, so threads do not help;
    each process loads the model once and its runtime gets the CPUs divided among them.
    One worker runs every batch in this process.
    """
    workers = default_workers(len(rows), batch_size) if workers is None else max(int(workers), 1)
    batches = _batches(rows, batch_size)
    if workers == 1:
        return _collect(map(RowAuditBatch(config), batches), progress)
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    threads = config.threads or max((os.cpu_count() or 1) // workers, 1)
    run = replace(config, threads=threads)
    try:
        with ProcessPoolExecutor(
            workers, mp_context=_context(), initializer=_start_worker, initargs=(run,)
        ) as pool:
            return _collect(pool.map(_work, batches), progress)
    except BrokenProcessPool as exc:
        raise EngineError(
            f"a worker process of the local engine died ({exc}); an out-of-memory kill is "
            "the usual cause: try fewer --workers or a smaller --batch-size"
        ) from exc


def _collect(outputs, progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
    parts = []
    for out in outputs:
        parts.append(out)
        if progress:
            progress(len(out["row"]))
    return _in_row_order(_concat(parts))


#: Blocks (Ray tasks) per actor: enough to balance the actors' loads and to keep each
#: actor's queue full; few enough that a task's cost (~ms) is spread over many rows.
BLOCKS_PER_ACTOR = 4
#: The largest block, in batches: bounds what one retry redoes.
MAX_BLOCK_BATCHES = 64


def block_rows(rows: int, actors: int, batch_size: int) -> int:
    """Rows per Ray block: a whole number of batches, BLOCKS_PER_ACTOR blocks per actor."""
    batches = -(-max(rows, 1) // batch_size)
    per_block = -(-batches // (max(actors, 1) * BLOCKS_PER_ACTOR))
    return batch_size * max(1, min(per_block, MAX_BLOCK_BATCHES))


#: Ray Data's notes on every run (its plan, its log folder, "progress bars disabled",
#: "execution finished in 2.9 s") are kept off the terminal while an audit runs, which
#: shows its own progress and says what it did; its warnings and errors still show, and its
#: log file (`ray-data.log`) keeps everything. Its DataContext flags are set back after.
QUIET_DATA_CONTEXT = {
    "enable_progress_bars": False,
    "print_on_execution_start": False,
    "enable_auto_log_stats": False,
}


@contextmanager
def _levels(levels: dict[str, int]) -> Iterator[None]:
    """These loggers at these levels, and as they were again afterwards."""
    loggers = {logging.getLogger(name): level for name, level in levels.items()}
    before = {lg: lg.level for lg in loggers}
    try:
        for lg, level in loggers.items():
            lg.setLevel(level)
        yield
    finally:
        for lg, level in before.items():
            lg.setLevel(level)


@contextmanager
def _quiet_ray_data(ctx) -> Iterator[None]:
    """Ray Data's DataContext flags (QUIET_DATA_CONTEXT) and its terminal handlers at
    WARNING, its "progress bars disabled" warning off; all as they were afterwards."""
    flags = {name: getattr(ctx, name) for name in QUIET_DATA_CONTEXT}
    terminal = [
        h
        for h in logging.getLogger("ray.data").handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    levels = {h: h.level for h in terminal}
    try:
        for name, value in QUIET_DATA_CONTEXT.items():
            setattr(ctx, name, value)
        for h in terminal:
            h.setLevel(max(h.level, logging.WARNING))
        with _levels({"ray.data._internal.progress": logging.ERROR}):
            yield
    finally:
        for name, value in flags.items():
            setattr(ctx, name, value)
        for h, level in levels.items():
            h.setLevel(level)


def start_ray(address: str | None = None, **kwargs) -> None:
    """ray.init: join the cluster at `address`, or start a local Ray whose workers preload
    Ray Data and DigitLens (`PRELOAD_MODULES`); usage statistics never posted. kwargs go
    to ray.init (e.g. num_cpus). Raises EngineError where Ray cannot start or join."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never post usage statistics
    if address in (None, "local"):  # a Ray started here: its processes inherit this env
        os.environ.setdefault(PRELOAD_ENV, PRELOAD_MODULES)
        # ... and find DigitLens where this process does, before Ray hands them the
        # driver's own path (only when they run a task: after the preload).
        root = str(Path(__file__).resolve().parents[2])
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in paths:
            os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    options = {"include_dashboard": False, "log_to_driver": False}
    try:
        # (Ray 2.60 turns token authentication on for a local cluster and warns that it
        # did, on every start; setting RAY_AUTH_MODE=token instead fails to start it.)
        with _levels({"ray._private.authentication": logging.ERROR}):
            ray.init(address=address, logging_level=logging.WARNING, **{**options, **kwargs})
    except Exception as exc:  # ConnectionError and Ray's own: say where it looked
        raise EngineError(f"cannot start or join {address or 'a local Ray'}: {exc}") from exc


def run_ray(
    rows: Rows,
    config: AuditConfig,
    batch_size: int = BATCH_SIZE,
    address: str | None = None,
    actors: int | None = None,
    cpus_per_actor: int = 1,
    progress: Callable[[int], None] | None = None,
    work: type[AuditBatch] | None = None,
) -> dict[str, np.ndarray]:
    """Ray Data: `map_batches` over a pool of actors, each loading the model once.

    address: a cluster to join (else $RAY_ADDRESS, else a local Ray on this machine,
    stopped again at the end). actors: the pool's size (default: the cluster's CPUs
    divided by cpus_per_actor). Each actor's ONNX Runtime and TensorFlow thread pools
    are set to its CPUs (Ray does not limit them). An actor that dies (a lost node, an
    out-of-memory kill) is restarted and its batch retried, up to ACTOR_RETRIES times.
    work: the batch class (RowAuditBatch unless a test passes another).
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise EngineError(
            'the Ray engine needs Ray Data: pip install "ray[data]" (see requirements.txt)'
        ) from exc

    address = address or os.environ.get(RAY_ADDRESS_ENV) or None
    started_here = not ray.is_initialized()
    if started_here:
        start_ray(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        size = actors or max(cpus // cpus_per_actor, 1)
        run = replace(config, threads=cpus_per_actor)
        with _quiet_ray_data(ray.data.DataContext.get_current()):
            merged = _map_on_ray(rows, run, batch_size, size, cpus_per_actor, progress, work)
    finally:
        if started_here:
            ray.shutdown()
    if merged is None:
        return {}
    return _in_row_order(
        {name: merged.column(name).to_numpy(zero_copy_only=False) for name in merged.column_names}
    )


def _map_on_ray(
    rows: Rows,
    config: AuditConfig,
    batch_size: int,
    size: int,
    cpus_per_actor: int,
    progress: Callable[[int], None] | None,
    work: type[AuditBatch] | None,
):
    """The rows through `size` actors of `work` (a pyarrow Table, None for no rows)."""
    import pyarrow as pa
    import ray.data

    columns = {**rows.columns(), "row": np.arange(len(rows), dtype=np.int64)}
    table = pa.table({k: pa.array(list(v)) for k, v in columns.items()})
    # Blocks made here, on the driver, with their metadata: `from_blocks` (a developer
    # API, kept by the pin) measures them in this process, where `from_arrow` asks a
    # Ray task for each block's (a worker process started just for that: ~2 s of a
    # small run). Arrow, not `from_items`' Python dicts: 10 M paths stay compact. No
    # repartition: it would be a stage of its own that needs a CPU the actors already
    # hold (it waits forever on a small cluster). A block is one task of an actor, cut
    # into batches there: BLOCKS_PER_ACTOR of them per actor, so a task's scheduling is
    # paid on hundreds of rows, and a lost actor's retry redoes one block.
    rows_per_block = block_rows(len(rows), size, batch_size)
    # No more actors than blocks: an actor with no block to read cost its start (a model
    # loaded, seconds) and Ray warned that "the operator only received 1 input(s)".
    size = max(1, min(size, -(-len(rows) // rows_per_block)))
    ds = ray.data.from_blocks(
        [table.slice(s, rows_per_block) for s in range(0, max(len(rows), 1), rows_per_block)]
    )
    with warnings.catch_warnings():
        # Restarts have no named parameter in Ray 2.60 (pinned): the generic remote
        # arguments are the supported way, flagged for a later Ray.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        out = ds.map_batches(
            work or RowAuditBatch,
            fn_constructor_args=(config,),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=cpus_per_actor,
            max_restarts=ACTOR_RETRIES,
            max_task_retries=ACTOR_RETRIES,
        )
    tables = []
    for part in out.iter_batches(batch_size=None, batch_format="pyarrow"):
        tables.append(part)
        if progress:
            progress(part.num_rows)
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None
