"""python -m model.audit INPUT... --model NAME_OR_PATH --out DIR (see model/audit/__init__.py)."""

from __future__ import annotations

import argparse
import os
import sys

from model.audit.batch import BATCH_SIZE
from model.audit.engines import ENGINES, RAY_ADDRESS_ENV
from model.audit.inputs import DEFAULT_FPS

#: The program named in --help and in errors (`python -m digitlens` passes its own).
PROG = "python -m model.audit"


def _positive(kind):
    """An argparse type: a number of `kind` above 0, else a usage error that says so."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
        return value

    return parse


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    from model.classifier import PREPROCESSINGS

    p = argparse.ArgumentParser(
        prog=prog,
        description="Audit a whole data set: every input's answer, verdict and (with "
        "--explain) map and trust score, in DIR/predictions.parquet and DIR/report.html.",
        epilog="INPUT: a folder (recursive), an image or video file, a glob, an IDX images "
        "file or mnist:test / fashion-mnist:train, or a Parquet/CSV list with a `path` column "
        "(and an optional `label` column).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--model", default="mnist-cnn", help="bundled name, Applications name or .keras")
    p.add_argument("--out", required=True, help="folder for predictions.parquet and report.html")
    p.add_argument(
        "--explain",
        metavar="METHOD",
        help="also a map and its trust score per input: a method name or `default`",
    )
    p.add_argument(
        "--evidence",
        action="store_true",
        help="also each input's representation, atlas position and look-alike agreement",
    )
    p.add_argument(
        "--number",
        action="store_true",
        help="also read each input as a written number: its digits, each judged",
    )
    p.add_argument("--layer", help="the layer a CAM method reads (default: the model's)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    p.add_argument(
        "--ray-address", help=f"a Ray cluster to join (default ${RAY_ADDRESS_ENV}, else local)"
    )
    p.add_argument("--actors", type=_positive(int), help="Ray actors (default: one per CPU)")
    p.add_argument(
        "--workers", type=_positive(int), help="local engine processes (default: one per CPU)"
    )
    p.add_argument("--runtime", default="auto", help="auto, onnx, onnx-int8, onnx-fp16 or keras")
    p.add_argument(
        "--preprocessing",
        choices=PREPROCESSINGS,
        help="your model's input scaling or digit recipe, where its card does not say it "
        "(as python -m model.predict's; default: the card's, else from the model)",
    )
    p.add_argument(
        "--fps", type=_positive(float), default=DEFAULT_FPS, help="frames sampled per video second"
    )
    p.add_argument("--batch-size", type=_positive(int), default=BATCH_SIZE)
    p.add_argument("--data-dir", help="where mnist:test and the like are found")
    p.add_argument(
        "--limit",
        type=_positive(int),
        help="audit only the first N inputs, in the order listed (a quick look at a large set)",
    )
    args = p.parse_args(argv)
    if args.layer and not args.explain:
        p.error("--layer goes with --explain METHOD (the layer that method reads)")
    if args.engine == "local" and (args.actors or args.ray_address):
        p.error("--actors and --ray-address go with --engine ray")
    return args


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    from tqdm import tqdm

    from model.audit import audit
    from model.errors import DigitLensError

    bar, total = None, None

    def listed(n: int) -> None:
        nonlocal total
        total = n

    def progress(n: int) -> None:  # the bar appears with the first batch: not before an error
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="input")
        bar.update(n)

    try:
        result = audit(
            args.inputs,
            args.out,
            model=args.model,
            explain=args.explain,
            layer=args.layer,
            engine=args.engine,
            runtime=args.runtime,
            preprocessing=args.preprocessing,
            fps=args.fps,
            data_dir=args.data_dir,
            batch_size=args.batch_size,
            ray_address=args.ray_address,
            actors=args.actors,
            workers=args.workers,
            evidence=args.evidence,
            number=args.number,
            progress=progress,
            limit=args.limit,
            listed=listed,
        )
    except DigitLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    errors = sum(e is not None for e in result.columns.get("error", []))
    print(
        f"{len(result)} inputs ({errors} unreadable) in {result.seconds:.1f} s "
        f"on {result.engine}: {result.path('predictions.parquet')}, {result.path('report.html')}"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
