"""Cold start: how long a fresh process takes, from its start, to be useful.

    python -m benchmarks.cold_start [--repeats 5]

Medians over fresh processes (wall time and the process's own CPU time, which a
shared machine disturbs less): `python -m model.predict --help`, predicting one
PNG on the bundled model (ONNX, no TensorFlow), the same with `--runtime keras`,
`import tensorflow, keras` alone for reference, and the server from launch to a
200 on `/readyz`. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.tables import Lines, command_line, write_table

ROOT = Path(__file__).resolve().parents[1]


def _child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one run of `cmd` to completion; it must succeed."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cpu0, t = _child_cpu_s(), time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - t, _child_cpu_s() - cpu0


def server_ready(port: int) -> float:
    """Seconds from launching `python -m server` to a 200 on /readyz."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t > 120:
                    raise RuntimeError("the server did not become ready") from None
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    from benchmarks.load_test import free_port
    from model.input.samples import drawn_digit

    with tempfile.TemporaryDirectory() as tmp:
        seven = Path(tmp) / "seven.png"
        drawn_digit(7).save(seven)
        py = sys.executable
        cases = {
            "`python -m model.predict --help`": [py, "-m", "model.predict", "--help"],
            "predict one PNG (ONNX Runtime, no TensorFlow)": [
                py,
                "-m",
                "model.predict",
                str(seven),
            ],
            "predict one PNG with `--runtime keras`": [
                py,
                "-m",
                "model.predict",
                str(seven),
                "--runtime",
                "keras",
            ],
            "`import tensorflow, keras` alone (reference)": [
                py,
                "-c",
                "import tensorflow, keras",
            ],
        }
        out = Lines()
        out(
            f"{os.cpu_count()} cores, shared (load average {os.getloadavg()[0]:.1f} at start); "
            f"medians of {args.repeats} fresh processes\n"
        )
        out("| from process start to | wall s | CPU s |\n| --- | --- | --- |")
        for what, cmd in cases.items():
            runs = [timed(cmd) for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            out(f"| {what} | {wall:.2f} | {cpu:.2f} |")
        ready = statistics.median(server_ready(free_port()) for _ in range(args.repeats))
        out(f"| server (3 models) answers 200 on `/readyz` | {ready:.2f} | |")
    write_table("cold-start", out.markdown, command_line("python -m benchmarks.cold_start", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
