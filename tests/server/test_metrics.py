"""Metrics: one registry per app in one process; with several workers, one private
directory of metric files per server run (server/workers.py), gone at shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from server.metrics import MULTIPROC_DIR_ENV, Metrics
from server.workers import shared_metrics_dir
from tests.helpers import ROOT, free_port, wait_http

PRIVATE = 0o700
#: How long the supervisor may take to notice a dead worker (it polls every 0.5 s).
NOTICE_S = 15.0


def test_apps_in_one_process_keep_their_own_metrics():
    a, b = Metrics.create(), Metrics.create()
    a.images.labels("mnist-cnn", "predicted").inc()
    assert b"digitlens_images_total{" in generate_latest(a.registry)
    assert b"digitlens_images_total{" not in generate_latest(b.registry)


def test_requests_refused_before_routing_are_counted_under_their_route():
    """A 413 or 415 from the body checks (before routing) was counted as route="unmatched";
    a path no route serves still is."""
    from fastapi.testclient import TestClient

    from server.config import ServerConfig
    from server.main import create_app

    cfg = ServerConfig(models=("mnist-mlp",), max_body_bytes=1000)
    with TestClient(create_app(cfg)) as c:
        big = {"Content-Type": "image/png"}
        assert c.post("/v1/read", content=b"0" * 2000, headers=big).status_code == 413
        zipped = big | {"Content-Encoding": "gzip"}
        assert c.post("/v1/predict", content=b"0", headers=zipped).status_code == 415
        assert c.post("/v1/nowhere", content=b"0", headers=big).status_code == 404
        text = c.get("/metrics").text
    assert 'route="/v1/read",status="413"' in text
    assert 'route="/v1/predict",status="415"' in text
    assert 'route="unmatched",status="404"' in text
    assert 'route="unmatched",status="413"' not in text


def test_shared_metrics_dir_is_private_and_goes_even_on_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(MULTIPROC_DIR_ENV, raising=False)
    with pytest.raises(RuntimeError), shared_metrics_dir() as path:
        assert os.environ[MULTIPROC_DIR_ENV] == path
        assert Path(path).parent == tmp_path and Path(path).stat().st_mode & 0o777 == PRIVATE
        (Path(path) / "counter_1.db").write_bytes(b"\0" * 8)
        raise RuntimeError("a worker failed")
    assert not Path(path).exists()
    assert MULTIPROC_DIR_ENV not in os.environ


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_workers_share_a_metrics_dir_removed_at_shutdown(tmp_path):
    """Two real workers (a tiny app): their files live in one private directory under
    $TMPDIR; a worker that dies loses its live gauge but keeps its counts; SIGTERM
    removes the directory."""
    port = free_port()
    config = dict(
        app="tests.server.metrics_probe:app", host="127.0.0.1", port=port, log_level="warning"
    )
    code = (
        "import sys, server.workers as w\n"
        "w.MIN_UPTIME_S = 0  # restart a worker however young\n"
        f"sys.exit(w.run_workers(2, {config!r}))"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop(MULTIPROC_DIR_ENV, None)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, timeout=60)
        worker = _get(f"http://127.0.0.1:{port}/")
        shared = Path(worker["dir"])
        assert shared.parent == tmp_path and shared.stat().st_mode & 0o777 == PRIVATE
        live = shared / f"gauge_livesum_{worker['pid']}.db"
        counted = shared / f"counter_{worker['pid']}.db"
        assert live.is_file() and counted.is_file()
        os.kill(worker["pid"], signal.SIGKILL)
        assert _wait(lambda: not live.exists(), NOTICE_S), "the dead worker's gauge stayed"
        assert counted.is_file()  # what it counted still counts
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["taken", "0"])
def test_several_workers_on_a_port_they_cannot_have_say_so_in_one_line(port):
    """A port another program holds, or port 0 (each worker would get its own): one clear
    line and exit status 1, no traceback, no worker started."""
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        number = other.getsockname()[1] if port == "taken" else 0
        run = subprocess.run(
            [sys.executable, "-m", "server", "--port", str(number), "--workers", "2"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert ("Address already in use" if port == "taken" else "fixed --port") in run.stderr
