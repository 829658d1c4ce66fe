"""Before and after: the digit preprocessing of another git revision against this tree's,
on the same inputs, interleaved in one process (the machine is shared: only the ratio
of the two medians means much).

    python -m benchmarks.preprocess_ab [--base main] [--n 500] [--repeats 4]

The base revision's `model/input/preprocessing.py` and `model/input/refusals.py` are
read with `git show` and loaded as modules of their own (everything they import comes
from this tree). Inputs: the realistic canvas set of `training.renders` sent as
Chromium's PNG bytes, and the browser canvas of `benchmarks.canvas` (RGBA, alpha ink).
Both revisions must give every input the same model input and geometry, else it stops.
Timing is the CPU time of this thread (`time.thread_time`), one call of each in turn.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_revision(base: str, tmp: Path):
    """The base revision's preprocessing module, using its own refusals module."""
    modules = {}
    for name in ("refusals", "preprocessing"):
        source = subprocess.run(
            ["git", "show", f"{base}:model/input/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        path = tmp / f"base_{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(f"base_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    modules["preprocessing"].is_noise = modules["refusals"].is_noise
    modules["preprocessing"].check_size = modules["refusals"].check_size
    return modules["preprocessing"]


def compare(name: str, inputs: list, base, new, repeats: int) -> str:
    for data in inputs:
        a, b = base.preprocess_stages(data), new.preprocess_stages(data)
        if not (np.array_equal(a.x, b.x) and vars(a.geometry) == vars(b.geometry)):
            raise SystemExit(f"{name}: the two revisions preprocess an input differently")
    before, after = [], []
    for _ in range(repeats):
        for data in inputs:
            c = time.thread_time()
            base.preprocess_stages(data)
            before.append(time.thread_time() - c)
            c = time.thread_time()
            new.preprocess_stages(data)
            after.append(time.thread_time() - c)
    mb, ma = statistics.median(before) * 1e3, statistics.median(after) * 1e3
    return f"| {name} | {len(before)} | {mb:.3f} | {ma:.3f} | {ma / mb:.3f} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.preprocess_ab", description=__doc__)
    p.add_argument("--base", default="main", help="git revision to compare against")
    p.add_argument("--n", type=int, default=500, help="realistic canvases")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--data-dir", help="folder with the data sets (default $DIGITLENS_DATA_DIR)")
    args = p.parse_args(argv)

    from benchmarks.canvas import canvas_pngs
    from benchmarks.ood import SEED
    from model.datasets import load_split, locate
    from model.input import preprocessing as new
    from model.input.png import encode_up
    from model.runtime.allocator import tune_allocator
    from training.renders import SETS, make_set

    tune_allocator()  # as a loaded classifier runs
    test = load_split(locate("mnist", args.data_dir), "test")
    items, _ = make_set("canvas", test.images, test.labels, args.n, SEED + SETS["canvas"])
    realistic = [encode_up(np.asarray(i.convert("RGBA"))) for i in items]
    with tempfile.TemporaryDirectory() as tmp:
        base = load_revision(args.base, Path(tmp))
        print(f"CPU ms per image, median; base {args.base}, this tree\n")
        print("| inputs | calls each | base | this tree | ratio |")
        print("| --- | --- | --- | --- | --- |")
        print(compare("realistic canvases (Chromium PNG)", realistic, base, new, args.repeats))
        browser = canvas_pngs()
        print(compare("browser canvas, alpha ink (benchmarks.canvas)", browser, base, new, 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
