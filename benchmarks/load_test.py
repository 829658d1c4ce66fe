"""Load and soak test: the DigitLens server against the classic tutorial server.

    python -m benchmarks.load_test --clients 16 --seconds 20
    python -m benchmarks.load_test --soak 10000 --clients 16   # memory growth check

Both servers run here as real processes on loopback ports, driven by the same
concurrent clients sending the same PNG digits. Requests are bounded in number
and time, and everything stops by itself.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx

ROOT = Path(__file__).resolve().parents[1]
MAX_SOAK_GROWTH = 0.05  # "no memory growth beyond a few percent"


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    rss_start_mb: float
    rss_end_mb: float

    def row(self) -> str:
        q = (
            statistics.quantiles(self.latencies_ms, n=100)
            if len(self.latencies_ms) > 2
            else [0] * 99
        )
        return (
            f"| {self.name} | {self.requests:,} | {self.errors} | "
            f"{self.requests / self.seconds:,.0f} | {q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f} | "
            f"{self.rss_start_mb:.0f} → {self.rss_end_mb:.0f} "
            f"({(self.rss_end_mb / self.rss_start_mb - 1) * 100:+.1f}%) |"
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cmd: list[str], health: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{cmd} did not become healthy")


def payloads() -> list[bytes]:
    from model.samples import EXAMPLES, drawn_digit

    out = []
    for d in EXAMPLES:
        buf = io.BytesIO()
        drawn_digit(d).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def drive(
    url: str, clients: int, seconds: float, max_requests: int | None, pid: int, name: str
) -> Result:
    bodies = payloads()
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        nonlocal errors, sent
        with httpx.Client(timeout=30) as client:
            i = k
            while time.perf_counter() < stop_at:
                with lock:
                    if max_requests is not None and sent >= max_requests:
                        return
                    sent += 1
                body = bodies[i % len(bodies)]
                i += 1
                t = time.perf_counter()
                try:
                    r = client.post(url, content=body, headers={"Content-Type": "image/png"})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                dt = (time.perf_counter() - t) * 1e3
                with lock:
                    latencies.append(dt)
                    errors += not ok

    # Warm-up, not counted.
    with httpx.Client(timeout=30) as c:
        for b in bodies * 3:
            c.post(url, content=b, headers={"Content-Type": "image/png"})
    rss0 = rss_mb(pid)
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return Result(name, len(latencies), errors, elapsed, latencies, rss0, rss_mb(pid))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.load_test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0, help="per server")
    p.add_argument("--soak", type=int, help="send exactly this many requests to DigitLens only")
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args(argv)

    results = []
    port = free_port()
    ours = launch(
        [sys.executable, "-m", "server", "--port", str(port), "--models", "mnist-cnn"],
        f"http://127.0.0.1:{port}/readyz",
    )
    try:
        if args.soak:
            results.append(
                drive(
                    f"http://127.0.0.1:{port}/v1/predict",
                    args.clients,
                    3600,
                    args.soak,
                    ours.pid,
                    "DigitLens (soak)",
                )
            )
        else:
            results.append(
                drive(
                    f"http://127.0.0.1:{port}/v1/predict",
                    args.clients,
                    args.seconds,
                    None,
                    ours.pid,
                    "DigitLens (FastAPI, batched, ONNX)",
                )
            )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        ours.terminate()
        ours.wait(timeout=30)
    if not args.soak and not args.no_baseline:
        bport = free_port()
        base = launch(
            [sys.executable, "-m", "benchmarks.baseline_server", "--port", str(bport)],
            f"http://127.0.0.1:{bport}/healthz",
        )
        try:
            results.append(
                drive(
                    f"http://127.0.0.1:{bport}/predict",
                    args.clients,
                    args.seconds,
                    None,
                    base.pid,
                    "baseline (Flask, model.predict per request)",
                )
            )
        finally:
            base.terminate()
            base.wait(timeout=30)

    print(
        f"{args.clients} concurrent clients over loopback, {os.cpu_count()} cores shared by "
        "clients and server\n"
    )
    print("| server | requests | errors | req/s | p50 ms | p95 ms | p99 ms | server RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(r.row())
    if len(results) == 2:
        a, b = results
        print(
            f"\nthroughput ratio: {(a.requests / a.seconds) / (b.requests / b.seconds):.1f}x; "
            f"p50 ratio: {median(b.latencies_ms) / median(a.latencies_ms):.1f}x"
        )
    sums = {
        line.split("{")[0]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith(("digitlens_batch_size_sum", "digitlens_batch_size_count"))
    }
    if len(sums) == 2:
        mean = sums["digitlens_batch_size_sum"] / max(sums["digitlens_batch_size_count"], 1)
        print(f"mean batch size on the DigitLens server: {mean:.1f}")
    growth = [r.rss_end_mb / r.rss_start_mb - 1 for r in results if r.name.startswith("DigitLens")]
    if args.soak and growth and growth[0] > MAX_SOAK_GROWTH:
        print(f"FAIL: server memory grew {growth[0]:.1%} (> {MAX_SOAK_GROWTH:.0%})")
        return 1
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
