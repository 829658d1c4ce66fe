"""Load and soak test: the DigitLens server against the classic tutorial server.

    python -m benchmarks.load_test --clients 32 --seconds 20 --explain-seconds 10
    python -m benchmarks.load_test --soak 10000 --clients 32   # memory growth check

Both servers run here as real processes on loopback ports, driven by the same two
load generators in turn: closed-loop clients in one asyncio event loop (raw keep-alive
HTTP/1.1), and `wrk` (C, epoll; Debian's package, `/usr/bin/wrk`, where installed), one
thread and the same number of keep-alive connections, its Lua script posting the same
PNGs. The PNGs are what a browser canvas sends (`benchmarks.canvas`: 280x280 RGBA,
Chromium's filters), or with `--payload grey` the 280x280 greyscale drawings of earlier
runs. Memory is summed over the server and its worker processes. Requests are bounded in
number and time; everything stops by itself. Kept as one file: the servers, the clients
and the table are one experiment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

import httpx

from benchmarks.tables import Lines, command_line, write_table

ROOT = Path(__file__).resolve().parents[1]
MAX_SOAK_GROWTH = 0.05  # "no memory growth beyond a few percent"
#: Warm-up rounds last this long; the server is warm once no request in a round takes
#: WARM_MS or more (a cold worker importing TensorFlow takes seconds).
WARMUP_ROUND_S = 3.0
WARM_MS = 2000.0
#: Debian's wrk; one thread is enough for the rates here and leaves the cores to the server.
WRK = "/usr/bin/wrk"
WRK_THREADS = 1
#: wrk's Lua script: posts the PNG files named on its command line in turn, then prints
#: one JSON line of the summary (latencies in microseconds).
WRK_SCRIPT = r"""
local bodies = {}
init = function(args)
  for i, path in ipairs(args) do
    local f = assert(io.open(path, "rb")); bodies[i] = f:read("*a"); f:close()
  end
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "image/png"}, bodies[n % #bodies + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    rss_start_mb: float
    rss_end_mb: float
    cpu_s: float  # server CPU seconds during the run, all processes
    client_cpu_s: float = 0.0  # the load generator's own CPU seconds during the run
    #: (p50, p95, p99) ms where the generator reports only those (wrk), else None
    percentiles: tuple[float, float, float] | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def row(self) -> str:
        q = (
            statistics.quantiles(self.latencies_ms, n=100)
            if len(self.latencies_ms) > 2
            else [0] * 99
        )
        if self.percentiles is not None:
            q = [0.0] * 99
            q[49], q[94], q[98] = self.percentiles
        return (
            f"| {self.name} | {self.requests:,} | {self.errors} | "
            f"{self.requests / self.seconds:,.0f} | {q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f} | "
            f"{self.rss_start_mb:.0f} → {self.rss_end_mb:.0f} "
            f"({(self.rss_end_mb / self.rss_start_mb - 1) * 100:+.1f}%) | "
            f"{self.cpu_s / max(self.requests, 1) * 1e3:.2f} | "
            f"{self.client_cpu_s / max(self.requests, 1) * 1e3:.2f} |"
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory summed over `pid` and its descendants."""
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            total += rss_mb(p)
    return total


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants: unlike
    throughput on a shared machine, the cost per request does not depend on the load."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cmd: list[str], health: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
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


def payloads(kind: str = "canvas") -> list[bytes]:
    """The PNGs every client posts in turn: browser canvas exports (RGBA) or greyscale."""
    from model.input.samples import EXAMPLES, drawn_digit

    if kind == "canvas":
        from benchmarks.canvas import canvas_pngs

        return canvas_pngs()
    out = []
    for d in EXAMPLES:
        buf = io.BytesIO()
        drawn_digit(d).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def http_request(url: str, body: bytes) -> bytes:
    """One keep-alive HTTP/1.1 POST of a PNG, as bytes ready to write."""
    u = urlsplit(url)
    target = u.path + (f"?{u.query}" if u.query else "")
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def v2_fp32_request(url: str) -> bytes:
    """One Open Inference Protocol request with one drawing already in model format
    (binary tensor extension, as tritonclient sends it): the server's cost without
    decoding and preprocessing."""
    from model import load_classifier
    from model.input.samples import drawn_digit

    x = load_classifier("mnist-cnn").preprocess(drawn_digit(7)).astype("<f4")
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": [1, 28, 28, 1],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ]
        }
    ).encode()
    body = head + x.tobytes()
    u = urlsplit(url)
    return (
        f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Inference-Header-Content-Length: {len(head)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one response, its body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:] if ln)
    }
    length = int(headers.get(b"content-length", b"0"))
    if length:
        await reader.readexactly(length)
    return status, headers.get(b"connection", b"").lower() != b"close"


async def _drive(
    url: str,
    clients: int,
    seconds: float,
    max_requests: int | None,
    requests: list[bytes] | None = None,
) -> tuple[list[float], int, float]:
    """Closed loop: `clients` connections, each sending its next request when the last
    one is answered. One event loop, prepared request bytes, a minimal HTTP parser:
    the generator takes a few percent of a core at the rates measured here."""
    u = urlsplit(url)
    requests = requests or [http_request(url, b) for b in payloads()]
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors, sent
        reader = writer = None
        i = k
        while time.perf_counter() < stop_at and (max_requests is None or sent < max_requests):
            sent += 1
            req = requests[i % len(requests)]
            i += 1
            t = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
                writer.write(req)
                status, keep = await asyncio.wait_for(_read_response(reader), 30)
                ok = status == 200
                if not keep:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                ok = False
                if writer is not None:
                    writer.close()
                reader = writer = None
            latencies.append((time.perf_counter() - t) * 1e3)
            errors += not ok
        if writer is not None:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies, errors, time.perf_counter() - start


def drive(
    url: str,
    clients: int,
    seconds: float,
    max_requests: int | None,
    pid: int,
    name: str,
    warmup_s: float = 3.0,
    requests: list[bytes] | None = None,
) -> Result:
    runner = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    # Warm-up, not counted, with every client at once so that every worker process
    # warms up too (for /v1/explain each worker imports TensorFlow on its first call):
    # rounds of WARMUP_ROUND_S until no request in a round is slow, at most `warmup_s`.
    deadline = time.perf_counter() + warmup_s
    while True:
        lat, _, _ = runner(_drive(url, clients, min(WARMUP_ROUND_S, warmup_s), None, requests))
        if max(lat, default=0) < WARM_MS or time.perf_counter() > deadline:
            break
    rss0, cpu0, own0 = tree_rss_mb(pid), tree_cpu_s(pid), time.process_time()
    latencies, errors, elapsed = runner(_drive(url, clients, seconds, max_requests, requests))
    cpu, own = tree_cpu_s(pid) - cpu0, time.process_time() - own0
    return Result(
        name, len(latencies), errors, elapsed, latencies, rss0, tree_rss_mb(pid), cpu, own
    )


def drive_wrk(
    url: str, clients: int, seconds: float, pid: int, name: str, bodies: list[bytes]
) -> Result:
    """The same closed loop from wrk: `clients` keep-alive connections on WRK_THREADS
    thread(s), a warm-up run first (not counted). Non-2xx answers count as errors."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, body in enumerate(bodies):
            path = Path(tmp) / f"{i}.png"
            path.write_bytes(body)
            paths.append(str(path))
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)

        def run(duration: float) -> dict:
            cmd = [WRK, f"-t{WRK_THREADS}", f"-c{clients}", f"-d{max(int(duration), 1)}s"]
            cmd += ["--timeout", "30s", "-s", str(script), url, "--", *paths]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            return json.loads(out.strip().splitlines()[-1])

        run(WARMUP_ROUND_S)
        rss0, cpu0 = tree_rss_mb(pid), tree_cpu_s(pid)
        own0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        got = run(seconds)
        own1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = tree_cpu_s(pid) - cpu0
    own = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    return Result(
        name,
        got["requests"],
        got["errors"] + got["non2xx"],
        got["duration_us"] / 1e6,
        [],
        rss0,
        tree_rss_mb(pid),
        cpu,
        own,
        percentiles=(got["p50_us"] / 1e3, got["p95_us"] / 1e3, got["p99_us"] / 1e3),
    )


#: Issue #22's server goal, on RGBA canvas PNGs with --workers 2 and 32 connections.
GOAL_RPS, GOAL_P99_MS, GOAL_X, GOAL_CLIENTS, GOAL_WORKERS = 1500, 40.0, 60.0, 32, 2


def goal_row(gen: str, ours: Result, base: Result, args: argparse.Namespace) -> str:
    """One row of the goal table: this run's numbers against the goal, and whether the
    run's set-up is the goal's (otherwise it says so instead of a verdict)."""
    p99 = (
        ours.percentiles[2]
        if ours.percentiles
        else statistics.quantiles(ours.latencies_ms, n=100)[98]
    )
    x = ours.rate / base.rate
    setup = (
        args.workers == GOAL_WORKERS and args.clients == GOAL_CLIENTS and args.payload == "canvas"
    )
    met = ours.rate >= GOAL_RPS and p99 <= GOAL_P99_MS and not ours.errors and x >= GOAL_X
    verdict = ("met" if met else "not met") if setup else "other set-up: no verdict"
    return (
        f"| {gen} | {ours.rate:,.0f} (>= {GOAL_RPS:,}) | {p99:.1f} (<= {GOAL_P99_MS:g}) "
        f"| {ours.errors} (0) | {x:.1f}x (>= {GOAL_X:g}x) | {verdict} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.load_test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=20.0, help="per server")
    p.add_argument("--workers", type=int, default=2, help="DigitLens server processes")
    p.add_argument("--runtime", default="auto", help="DigitLens server runtime")
    p.add_argument("--soak", type=int, help="send exactly this many requests to DigitLens only")
    p.add_argument("--explain-seconds", type=float, default=0.0, help="also load /v1/explain")
    p.add_argument("--explain-clients", type=int, default=4)
    p.add_argument(
        "--explain-warmup", type=float, default=90.0, help="at most, s (TensorFlow loads)"
    )
    p.add_argument(
        "--v2-seconds",
        type=float,
        default=0.0,
        help="also load /v2/models/mnist-cnn/infer with model-format FP32 (no preprocessing)",
    )
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument(
        "--payload",
        choices=("canvas", "grey"),
        default="canvas",
        help="what /v1/predict gets: browser canvas PNGs (RGBA, default) or greyscale PNGs",
    )
    p.add_argument(
        "--generators",
        default="asyncio,wrk",
        help="load generators, in turn (comma-separated; wrk is skipped where not installed)",
    )
    args = p.parse_args(argv)
    bodies = payloads(args.payload)
    generators = [g for g in args.generators.split(",") if g]
    if "wrk" in generators and not shutil.which(WRK):
        generators.remove("wrk")

    def load(url: str, pid: int, name: str) -> list[Result]:
        """One row per generator, the same PNGs from each."""
        rows = []
        for gen in generators:
            label = f"{name} [{gen}, {args.payload}]"
            if gen == "wrk":
                rows.append(drive_wrk(url, args.clients, args.seconds, pid, label, bodies))
            else:
                requests = [http_request(url, b) for b in bodies]
                rows.append(
                    drive(url, args.clients, args.seconds, None, pid, label, requests=requests)
                )
        return rows

    load_before = load_average()
    results = []
    port = free_port()
    ours = launch(
        [
            sys.executable,
            "-m",
            "server",
            "--port",
            str(port),
            "--models",
            "mnist-cnn",
            "--workers",
            str(args.workers),
            "--runtime",
            args.runtime,
        ],
        f"http://127.0.0.1:{port}/readyz",
    )
    name = f"DigitLens (FastAPI, {args.workers} workers, batched, {args.runtime})"
    try:
        url = f"http://127.0.0.1:{port}/v1/predict"
        if args.soak:
            requests = [http_request(url, b) for b in bodies]
            results.append(
                drive(
                    url, args.clients, 3600, args.soak, ours.pid, name + " soak", requests=requests
                )
            )
        else:
            results += load(url, ours.pid, name)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        if args.v2_seconds:
            v2 = f"http://127.0.0.1:{port}/v2/models/mnist-cnn/infer"
            results.append(
                drive(
                    v2,
                    args.clients,
                    args.v2_seconds,
                    None,
                    ours.pid,
                    "DigitLens v2 FP32 tensor (no preprocessing)",
                    requests=[v2_fp32_request(v2)],
                )
            )
        if args.explain_seconds:
            results.append(
                drive(
                    f"http://127.0.0.1:{port}/v1/explain",
                    args.explain_clients,
                    args.explain_seconds,
                    None,
                    ours.pid,
                    f"DigitLens /v1/explain ({args.explain_clients} clients)",
                    warmup_s=args.explain_warmup,
                    requests=[
                        http_request(f"http://127.0.0.1:{port}/v1/explain", b) for b in bodies
                    ],
                )
            )
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
            results += load(
                f"http://127.0.0.1:{bport}/predict",
                base.pid,
                "baseline (Flask, model.predict per request)",
            )
        finally:
            base.terminate()
            base.wait(timeout=30)

    out = Lines()
    out(
        f"{args.clients} concurrent clients (explain: {args.explain_clients}) over loopback, "
        f"{os.cpu_count()} cores shared by the load generator and the server; "
        f"load average before {load_before}, after {load_average()}\n"
    )
    out(
        "| server | requests | errors | req/s | p50 ms | p95 ms | p99 ms | server RSS MB "
        "| server CPU ms/request | load generator CPU ms/request |"
    )
    out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        out(r.row())
    ours_r = results[0]
    goal_rows: list[str] = []
    for gen in generators:
        pair = [r for r in results if f"[{gen}," in r.name]
        if len(pair) == 2 and pair[1].name.startswith("baseline"):
            ours_g, base_g = pair
            p50 = (
                f"; p50 ratio: {median(base_g.latencies_ms) / median(ours_g.latencies_ms):.1f}x"
                if ours_g.latencies_ms and base_g.latencies_ms
                else f"; p50 ratio: {base_g.percentiles[0] / ours_g.percentiles[0]:.1f}x"
            )
            out(f"\nthroughput ratio ({gen}): {ours_g.rate / base_g.rate:.1f}x{p50}")
            goal_rows.append(goal_row(gen, ours_g, base_g, args))
    if goal_rows:
        out(
            f"\n| goal (issue #22: --workers 2, {GOAL_CLIENTS} connections, canvas PNGs) "
            "| req/s | p99 ms | errors | x tutorial server | |\n"
            "| --- | --- | --- | --- | --- | --- |"
        )
        for row in goal_rows:
            out(row)
    sums = {
        line.split("{")[0]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith(("digitlens_batch_size_sum", "digitlens_batch_size_count"))
    }
    if len(sums) == 2:
        mean = sums["digitlens_batch_size_sum"] / max(sums["digitlens_batch_size_count"], 1)
        out(f"\nmean batch size (/metrics: all {args.workers} workers): {mean:.1f}")
    growth = ours_r.rss_end_mb / ours_r.rss_start_mb - 1
    grew = args.soak and growth > MAX_SOAK_GROWTH
    if grew:
        out(f"FAIL: server memory grew {growth:.1%} (> {MAX_SOAK_GROWTH:.0%})")
    name = "soak" if args.soak else "load-test"
    write_table(name, out.markdown, command_line("python -m benchmarks.load_test", argv))
    return 1 if grew or any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
