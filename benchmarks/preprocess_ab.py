"""Before and after: the digit preprocessing of another git revision against this tree's,
on the same inputs, interleaved in one process (the machine is shared: only the ratio
of the two medians means much).

    python -m benchmarks.preprocess_ab [--base main] [--n 500] [--repeats 4]

The base revision's modules of `model/input` that read and preprocess an image (PNG
decoding, resampling, refusals, preprocessing: BASE_MODULES) are read with `git show` and
loaded as modules of their own (everything else they import comes from this tree).
Inputs: the realistic canvas set of `training.renders` sent as Chromium's PNG bytes, and the
browser canvas of `benchmarks.canvas` (RGBA, alpha ink). Both revisions must give every
input the same model input and geometry, else it stops. Timing is the CPU time of this
thread (`time.thread_time`), one call of each in turn. `--predict` also times `clf.predict`
on the browser canvas end to end with either revision's preprocessing, and the raw ONNX
Runtime call (classifier only) in the same loop, in CPU time of the process
(`time.process_time`): issue #22's ratio.
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

#: The modules of `model/input` read from the base revision, each after those it imports.
BASE_MODULES = ("png", "resample", "decode", "refusals", "geometry", "lighting", "preprocessing")


def load_revision(base: str, tmp: Path):
    """The base revision's preprocessing module, using its own modules of BASE_MODULES
    (a revision without `png.py`, `resample.py`, ... uses this tree's)."""
    modules = {}
    for name in BASE_MODULES:
        shown = subprocess.run(
            ["git", "show", f"{base}:model/input/{name}.py"], capture_output=True, text=True
        )
        if shown.returncode and name in ("png", "resample", "geometry", "lighting"):
            continue  # a revision before the module: this tree's (unused by its preprocessing)
        shown.check_returncode()
        path = tmp / f"base_{name}.py"
        path.write_text(shown.stdout)
        spec = importlib.util.spec_from_file_location(f"base_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for dep, theirs in modules.items():  # its imports from them: the base's own
            _rebind(module, importlib.import_module(f"model.input.{dep}"), theirs)
        modules[name] = module
    return modules["preprocessing"]


def _rebind(module, ours, theirs) -> None:
    """Point every name `module` imported from `ours` (this tree's module) at the object of
    that name in `theirs` (the base revision's), where it has one."""
    for key, value in list(vars(module).items()):
        if hasattr(theirs, key) and getattr(ours, key, None) is value:
            setattr(module, key, getattr(theirs, key))


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


def compare_predict(data: bytes, base, repeats: int) -> list[str]:
    """clf.predict(data) with the base's preprocessing and with this tree's, and the raw
    ONNX Runtime call on its input, in turn; CPU time of the process, medians of 200
    calls per turn. Table rows, with each median's multiple of the raw call."""
    from unittest import mock

    from model import load_classifier

    clf = load_classifier("mnist-cnn")
    x = clf.preprocess(data).reshape(1, 28, 28, 1)

    def answer(p) -> tuple:
        return p.label, p.verdict, p.reason, p.ood_score, p.probabilities.tobytes()

    with mock.patch("model.classifier.preprocess_stages", base.preprocess_stages):
        old = answer(clf.predict(data))
    if answer(clf.predict(data)) != old:
        raise SystemExit("the two revisions answer the browser canvas differently")

    def per_call(f, n: int = 200) -> float:
        c = time.process_time()
        for _ in range(n):
            f()
        return (time.process_time() - c) / n * 1e3

    before, after, raw = [], [], []
    for _ in range(repeats):
        with mock.patch("model.classifier.preprocess_stages", base.preprocess_stages):
            before.append(per_call(lambda: clf.predict(data)))
        after.append(per_call(lambda: clf.predict(data)))
        raw.append(per_call(lambda: clf.runtime(x)))
    mb, ma, mr = (statistics.median(v) for v in (before, after, raw))
    return [
        f"| browser canvas, `clf.predict` end to end | {200 * repeats} | {mb:.3f} "
        f"({mb / mr:.2f}x raw) | {ma:.3f} ({ma / mr:.2f}x raw) | {ma / mb:.3f} |",
        f"| raw ONNX Runtime call (classifier only), same loop | {200 * repeats} | {mr:.3f} | | |",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.preprocess_ab", description=__doc__)
    p.add_argument("--base", default="main", help="git revision to compare against")
    p.add_argument("--n", type=int, default=500, help="realistic canvases")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--data-dir", help="folder with the data sets (default $DIGITLENS_DATA_DIR)")
    p.add_argument(
        "--predict", action="store_true", help="also clf.predict end to end against the raw call"
    )
    args = p.parse_args(argv)

    from benchmarks.canvas import canvas_png, canvas_pngs
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
        if args.predict:
            print("\n".join(compare_predict(canvas_png(7), base, 15)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
