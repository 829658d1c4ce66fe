"""Several server processes on one port, each with its own listening socket.

uvicorn's `--workers` binds one socket in the parent and shares it: when 32 clients
connect at once, whichever worker wakes first accepts most of them and keeps them
(keep-alive), so one process does three quarters of the work while the other idles
(measured: 25 and 7 connections). Here each worker binds the port itself with
SO_REUSEPORT, and the kernel spreads new connections over the workers' sockets by a
hash of the client's address and port.

The parent only supervises: it restarts a worker that dies after it has served for a
while, stops everything when a worker fails at start-up (a model that cannot load would
fail again), and stops the workers on SIGINT / SIGTERM.

It also gives the workers one private directory per server run for their metric files
(prometheus_client's multi-process mode, server/metrics.py), so `GET /metrics` answers
the sum over all workers whichever worker takes it; the directory goes at shutdown.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from server.metrics import MULTIPROC_DIR_ENV

log = logging.getLogger("digitlens.server")

#: A worker that exits sooner than this after its start failed to start: no restart.
MIN_UPTIME_S = 20.0
POLL_S = 0.5
STOP_TIMEOUT_S = 10.0
METRICS_DIR_PREFIX = "digitlens-metrics-"


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other workers may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """A fresh private directory (mode 0700, under $TMPDIR) for the metric files of the
    processes started inside the block, named to them by PROMETHEUS_MULTIPROC_DIR (set
    here, before they start: prometheus_client reads it once, at import). On exit the
    directory is removed and the variable restored."""
    path = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
    previous = os.environ.get(MULTIPROC_DIR_ENV)
    os.environ[MULTIPROC_DIR_ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR_ENV, None)
        else:
            os.environ[MULTIPROC_DIR_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def _serve(config: dict[str, Any]) -> None:
    """One worker process: its own socket, one uvicorn server on it."""
    import uvicorn

    cfg = uvicorn.Config(**config)
    sock = reuse_port_socket(cfg.host, cfg.port)
    uvicorn.Server(cfg).run(sockets=[sock])


def run_workers(workers: int, config: dict[str, Any]) -> int:
    """Run `workers` processes serving uvicorn `config` (host, port, app, ...) until
    SIGINT / SIGTERM; the exit status is 0, or a worker's when it failed to start."""
    host, port = config["host"], int(config["port"])
    if port == 0:
        print("ERROR:    several workers need a fixed --port (each binds it)", file=sys.stderr)
        return 1
    # Fail now, with one clear message, if another program holds the port.
    try:
        reuse_port_socket(host, port).close()
    except OSError as exc:
        print(f"ERROR:    cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    with shared_metrics_dir() as metrics_dir:
        return _supervise(workers, config, metrics_dir)


def _supervise(workers: int, config: dict[str, Any], metrics_dir: str) -> int:
    """Start, watch and stop the workers (see `run_workers`)."""
    host, port = config["host"], int(config["port"])
    ctx = multiprocessing.get_context("spawn")  # no forked TensorFlow or ONNX state
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        p = ctx.Process(target=_serve, args=(config,), name="digitlens-worker")
        p.start()
        return p, time.monotonic()

    procs = [start() for _ in range(workers)]
    print(
        f"INFO:     DigitLens serving on http://{host}:{port} with {workers} worker "
        "processes (press CTRL+C to quit)",
        file=sys.stderr,
        flush=True,
    )
    status = 0
    try:
        while not stopping:
            time.sleep(POLL_S)
            for i, (p, started) in enumerate(procs):
                if p.is_alive() or stopping:
                    continue
                if time.monotonic() - started < MIN_UPTIME_S:
                    log.error("worker %s failed to start (exit %s): stopping", p.pid, p.exitcode)
                    status = p.exitcode or 1
                    stopping = True
                    break
                log.warning("worker %s exited (%s): starting another", p.pid, p.exitcode)
                # Its live gauges go; its counters stay in the sums (they did happen).
                mark_process_dead(p.pid, metrics_dir)
                procs[i] = start()
    finally:
        for p, _ in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p, _ in procs:
            p.join(max(deadline - time.monotonic(), 0.1))
            if p.is_alive():
                p.kill()
                p.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
