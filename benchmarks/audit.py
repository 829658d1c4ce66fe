"""How fast a whole data set is audited, on one machine and on Ray, and whether both
engines give the same rows.

    python -m benchmarks.audit --data-dir ../shared/datasets

1. Throughput: N MNIST test digits written as PNG files (decode included), predict +
   verdict, by the local engine and by Ray Data with 2 actors (a local Ray started
   once, before timing: its start-up is reported apart). Ray is timed twice: the first
   Ray Data job on a fresh Ray also starts Ray Data's own helper actors, which a cluster
   that has run a job already has.
2. With `--explain integrated_gradients` on the first M of them: images/s for both
   engines, and where the local engine's time goes (read, model, map + trust).
3. Identity: K mixed inputs (MNIST digits, canvas drawings and phone photos of digits,
   non-digits, corrupt files) through both engines: same rows, labels, verdicts and
   errors, probabilities within 1e-5.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.tables import command_line, write_table
from model.audit.batch import AuditBatch, AuditConfig
from model.audit.engines import default_workers, run_local, run_ray, start_ray
from model.audit.inputs import list_inputs
from model.datasets import load_split, locate
from training.negatives import negatives
from training.renders import make_set


def write_digits(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:05d}.png")


def write_mixed(folder: Path, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> None:
    """n inputs: a quarter each MNIST PNGs, canvas drawings, photos, non-digits + corrupt."""
    folder.mkdir(parents=True, exist_ok=True)
    q = n // 4
    write_digits(folder / "mnist", images[:q])
    for kind in ("canvas", "photo"):
        items, _ = make_set(kind, images, labels, q, seed)
        (folder / kind).mkdir()
        for i, item in enumerate(items):
            path = folder / kind / f"{i:05d}"
            if isinstance(item, bytes):
                path.with_suffix(".jpg").write_bytes(item)
            else:
                item.save(path.with_suffix(".png"))
    other = folder / "other"
    other.mkdir()
    for i, item in enumerate(negatives("shapes", q - q // 10, "report", seed)):
        if isinstance(item, bytes):
            (other / f"{i:05d}.jpg").write_bytes(item)
        elif isinstance(item, np.ndarray):
            Image.fromarray((np.clip(item, 0, 1) * 255).astype(np.uint8)).save(
                other / f"{i:05d}.png"
            )
        else:
            item.save(other / f"{i:05d}.png")
    for i in range(q // 10):  # corrupt: truncated PNGs and text named .png
        (other / f"corrupt-{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(i))


def timed(run, *args, **kwargs):
    t0 = time.perf_counter()
    out = run(*args, **kwargs)
    return out, time.perf_counter() - t0


def same_rows(a: dict, b: dict) -> tuple[bool, float]:
    equal = all(list(a[k]) == list(b[k]) for k in ("path", "label", "verdict", "error"))
    ok = np.isfinite(a["probability"])
    gap = float(np.max(np.abs(a["probability"][ok] - b["probability"][ok]), initial=0.0))
    return equal and bool((np.isfinite(b["probability"]) == ok).all()), gap


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.audit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir")
    p.add_argument("--n", type=int, default=10_000, help="PNG digits for throughput")
    p.add_argument("--explain-n", type=int, default=500, help="digits for the IG run")
    p.add_argument("--mixed", type=int, default=2_000, help="mixed inputs for identity")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    test = load_split(locate("mnist", args.data_dir), "test")
    tmp = Path(tempfile.mkdtemp(prefix="digitlens-audit-bench-"))
    write_digits(tmp / "digits", test.images[: args.n])
    write_mixed(tmp / "mixed", test.images, test.labels, args.mixed, args.seed)
    digits = list_inputs([str(tmp / "digits")])
    mixed = list_inputs([str(tmp / "mixed")])

    t0 = time.perf_counter()
    start_ray(num_cpus=os.cpu_count())
    import ray.data  # noqa: F401  (Ray Data's import is part of Ray's start-up, not the run's)

    ray_start = time.perf_counter() - t0
    lines = [
        f"Ray start-up (`ray.init`, Ray Data imported) {ray_start:.1f} s (not in the times below).",
        "",
        "| run | inputs | seconds | images/s | vs local |",
        "| --- | --- | --- | --- | --- |",
    ]
    config = AuditConfig()
    run_local(list_inputs([str(tmp / "digits" / "00000.png")]), config)  # warm the caches
    workers = default_workers(len(digits))
    local, t_local = timed(run_local, digits, config)  # the default: one process per CPU
    _, t_one = timed(run_local, digits, config, workers=1)
    # The first Ray Data job on a Ray also starts Ray Data's own actors (its statistics,
    # autoscaling coordinator and actor tracker), which a running cluster already has.
    spread, t_ray_first = timed(run_ray, digits, config, actors=2)
    _, t_ray = timed(run_ray, digits, config, actors=2)
    # Ray's fixed cost (an actor pool started, one block through it) apart from its rate.
    first = list_inputs([str(tmp / "digits" / f"{i:05d}.png") for i in range(64)])
    _, t_ray_fixed = timed(run_ray, first, config, actors=2)
    for name, t in (
        (f"local, {workers} processes (default), predict + verdict", t_local),
        ("local, 1 process", t_one),
        ("Ray, 2 actors, the first Ray Data job on this Ray", t_ray_first),
        ("Ray, 2 actors, a Ray that has run a job before", t_ray),
    ):
        lines.append(
            f"| {name} | {args.n:,} PNG | {t:.2f} | {args.n / t:,.0f} | {t_local / t:.2f} |"
        )
    rate = (args.n - 64) / max(t_ray - t_ray_fixed, 1e-9)
    met = {True: "met", False: "not met"}
    per_s = args.n / t_local
    lines += [
        "",
        f"Goals: local >= 2,000 images/s: {per_s:,.0f} ({met[per_s >= 2000]}); "
        f"Ray within 25 % of local: {t_local / t_ray:.2f} x on a Ray that has run a job "
        f"({met[t_local / t_ray >= 0.75]}), {t_local / t_ray_first:.2f} x as its first job.",
    ]
    lines += [
        "",
        f"Ray's fixed cost, 64 inputs through a fresh pool of 2 actors: {t_ray_fixed:.1f} s; "
        f"beyond it, Ray reads {rate:,.0f} images/s ({rate * t_local / args.n:.2f} x local).",
        "",
        "| run | inputs | seconds | images/s | vs local |",
        "| --- | --- | --- | --- | --- |",
    ]
    ig = AuditConfig(explain="integrated_gradients")
    sub = list_inputs([str(tmp / "digits" / f"{i:05d}.png") for i in range(args.explain_n)])
    work: list[AuditBatch] = []  # built inside the timing: TensorFlow's import and the
    # model's load are part of an explained audit, as they are of each Ray actor's start

    def explain_here():
        work.append(AuditBatch(ig))
        return [work[0](b) for b in _chunks(sub, 64)]

    _, t_ig_local = timed(explain_here)
    _, t_ig_ray = timed(run_ray, sub, ig, actors=2)
    for name, t in (
        ("local, 1 process (its model load in the time), + IG map + trust", t_ig_local),
        ("Ray, 2 actors (their start in the time), + IG", t_ig_ray),
    ):
        lines.append(
            f"| {name} | {args.explain_n:,} PNG | {t:.2f} | {args.explain_n / t:,.0f} "
            f"| {t_ig_local / t:.2f} |"
        )
    total = sum(work[0].seconds.values())
    shares = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in work[0].seconds.items())
    lines += ["", f"Where the local IG audit's time goes: {shares}."]
    m_local = run_local(mixed, config)
    m_ray = run_ray(mixed, config, actors=2)
    equal, gap = same_rows(m_local, m_ray)
    errors = sum(e is not None for e in m_local["error"])
    lines.append(
        f"Identity on {len(mixed):,} mixed inputs ({errors} unreadable): rows, labels, verdicts "
        f"and errors {'equal' if equal else 'DIFFER'}; largest probability gap {gap:.1e}."
    )
    accuracy = float((local["label"] == test.labels[: args.n]).mean())
    lines.append(f"Local engine accuracy on the PNG digits: {accuracy:.2%}.")
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(lines))
    write_table("audit", "\n".join(lines), command_line("python -m benchmarks.audit", argv))
    return 0 if equal and gap <= 1e-5 else 1


def _chunks(rows, size: int):
    cols = rows.columns()
    for s in range(0, len(rows), size):
        yield {k: v[s : s + size] for k, v in cols.items()}


if __name__ == "__main__":
    sys.exit(main())
