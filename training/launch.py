"""Run a multi-worker training on this machine: `python -m training.launch --workers 2 -- ARGS`.

Starts N `python -m training.train --distribute multiworker ARGS` processes, each
with its own `TF_CONFIG` (a cluster of free loopback ports, and its index in it),
prints their output line by line as `[worker i] ...`, stops the others as soon
as one fails, and exits with the chief's (worker 0's) status. On several machines
or on Kubernetes, set `TF_CONFIG` yourself (see docs/tutorial/train.md); this is the same
cluster on one host, for trying it out and for the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
#: Seconds a worker gets to exit after SIGTERM before SIGKILL (TensorFlow blocked in a
#: collective ignores SIGTERM).
STOP_GRACE_S = 5.0
#: Seconds the others get to finish once the chief has succeeded (they have nothing to write).
AFTER_CHIEF_S = 60.0
#: How often the supervisor looks at its workers.
POLL_S = 0.2


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """`n` distinct ports free on `host` right now (the OS picks them; a small race remains)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(hosts: Sequence[str], index: int) -> str:
    """The `TF_CONFIG` of worker `index` in a cluster of `hosts` ("host:port"); 0 is the chief."""
    return json.dumps(
        {"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}}
    )


def train_command(train_args: Sequence[str]) -> list[str]:
    """`python -m training.train ARGS --distribute multiworker`; rejects another --distribute."""
    args = list(train_args)
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag == "--distribute":
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            if value != "multiworker":
                raise ValueError(f"the launcher runs --distribute multiworker, not {value!r}")
            return [sys.executable, "-m", "training.train", *args]
    return [sys.executable, "-m", "training.train", *args, "--distribute", "multiworker"]


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen
    reader: threading.Thread

    @property
    def name(self) -> str:
        return f"worker {self.index}"


def _stream(proc: subprocess.Popen, prefix: str, lock: threading.Lock) -> None:
    """Copy a worker's output to ours, a whole line at a time, each line prefixed."""
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        text = line.decode(errors="replace").rstrip("\r\n")
        with lock:
            sys.stdout.write(f"{prefix}{text}\n")
            sys.stdout.flush()


def _stop(workers: Sequence[Worker], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the workers still running (their whole process group), SIGKILL after a grace."""
    running = [w for w in workers if w.proc.poll() is None]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for w in running:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.killpg(w.proc.pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(w.proc.poll() is None for w in running):
            time.sleep(POLL_S)
        running = [w for w in running if w.proc.poll() is None]
        if not running:
            return


def supervise(commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]]) -> int:
    """Run one process per command, stream their output, and return the chief's status.

    Worker 0 is the chief. When any worker fails, the others are stopped; if that
    stopped the chief, the failing worker's status is returned instead (so that a
    failure is never reported as the signal we sent).
    """
    lock = threading.Lock()
    workers: list[Worker] = []
    for i, (cmd, env) in enumerate(zip(commands, envs, strict=True)):
        proc = subprocess.Popen(
            list(cmd),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
        reader = threading.Thread(target=_stream, args=(proc, f"[worker {i}] ", lock), daemon=True)
        reader.start()
        workers.append(Worker(i, proc, reader))

    failed: Worker | None = None
    chief_done: float | None = None
    try:
        while any(w.proc.poll() is None for w in workers):
            failed = next((w for w in workers if w.proc.poll() not in (None, 0)), None)
            if failed is None and workers[0].proc.returncode == 0:
                chief_done = chief_done or time.monotonic()
                if time.monotonic() - chief_done > AFTER_CHIEF_S:
                    _stop(workers)
                    break
            if failed:
                with lock:
                    print(
                        f"[launch] {failed.name} exited with status {failed.proc.returncode}; "
                        "stopping the others",
                        flush=True,
                    )
                _stop(workers)
                break
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        _stop(workers)
        raise
    for w in workers:
        w.proc.wait()
        w.reader.join(timeout=2)
    statuses = ", ".join(f"{w.name}: {w.proc.returncode}" for w in workers)
    print(f"[launch] exit statuses: {statuses}", flush=True)
    chief = workers[0]
    if failed is not None and failed is not chief and chief.proc.returncode != 0:
        return failed.proc.returncode
    return chief.proc.returncode


def launch(workers: int, train_args: Sequence[str], host: str = LOOPBACK) -> int:
    """Train with `workers` local processes; return the chief's exit status."""
    hosts = [f"{host}:{port}" for port in free_ports(workers, host)]
    command = train_command(train_args)
    base = {**os.environ, "PYTHONUNBUFFERED": "1"}
    base.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    envs = [{**base, "TF_CONFIG": tf_config(hosts, i)} for i in range(workers)]
    print(f"[launch] {workers} workers on {', '.join(hosts)}: {' '.join(command[1:])}", flush=True)
    return supervise([command] * workers, envs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.launch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--host", default=LOOPBACK, help="address the workers listen on")
    p.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="-- then python -m training.train's flags"
    )
    args = p.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    if args.workers < 1:
        p.error("--workers must be at least 1")
    try:
        return launch(args.workers, train_args, args.host)
    except ValueError as exc:
        p.error(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
