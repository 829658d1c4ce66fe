"""Apply a model to images, folders (recursively) and videos.

    python -m model.predict digit.png scans/ clip.mp4 --model mnist-cnn --json
    python -m model.predict scans/ --explain gradcam --out heatmaps/
    python -m model.predict nine.png --json --out heatmaps/ --explain --contrast 4
    python -m model.predict photo.jpg --model resnet50 --top-k 5 --explain --out maps/
    python -m model.predict photo.jpg --model my_rgb.keras --preprocessing=-1-1

`--explain` without a method uses the model's measured default; `--contrast C`
maps the evidence for the prediction (or `--target`) against class C. With
`--json`, each explanation carries its trust score and the card's sanity check.

One line per input (one JSON object with `--json`: path, label, probability,
probabilities, top_k (the `--top-k` most probable classes, default 5), and frame for
videos; in plain text, models with more than 10 classes also print their top-k).

`--model` takes a bundled model, a Keras Applications name (mobilenet_v2, resnet50,
efficientnet_b0, any keras.applications model; ImageNet weights from the Keras cache,
`--weights PATH` or a download) or a `.keras` file; `--preprocessing` overrides the
input scaling its card states. Unreadable files are reported one line
each on stderr and skipped; the exit code is 1 if any input failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".webp",
    ".tif",
    ".tiff",
    ".pgm",
    ".ppm",
    ".pbm",
}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
BATCH = 64
#: `--explain` without a method: the model's measured default (its card).
DEFAULT_EXPLAIN = "default"


@dataclass(frozen=True)
class Item:
    """One thing to predict: an image file, or one frame of a video."""

    path: Path
    image: object  # a path or an (H, W, 3) uint8 frame
    frame: int | None = None
    time_s: float | None = None


def collect(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand folders recursively into supported files; return (files, errors)."""
    files, errors = [], []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def video_frames(path: Path, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, time in s, (H, W, 3) uint8) sampled at `fps` frames per second."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        next_t = 0.0
        for i, frame in enumerate(container.decode(stream)):
            t = (
                float(frame.time)
                if frame.time is not None
                else i / float(stream.average_rate or 25)
            )
            if t + 1e-9 >= next_t:
                yield i, t, frame.to_ndarray(format="rgb24")
                next_t += 1.0 / fps


def count_samples(path: Path, fps: float) -> int | None:
    """How many frames `video_frames` will yield, for the progress bar (None if unknown)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return int(float(stream.duration * stream.time_base) * fps) + 1
    except Exception:
        return None
    return None


def _stem(item: Item) -> str:
    """A flat, unique-enough output name: the last folders and the file name, suffix kept."""
    parts = [p for p in item.path.parts[-3:] if p not in (item.path.anchor, "..", ".")]
    name = "__".join(parts).lstrip("._") or "input"
    return name if item.frame is None else f"{name}.f{item.frame:06d}"


def _write_explanation(
    clf,
    item: Item,
    stages,
    method: str | None,
    layer: str | None,
    out: Path,
    target: int | None = None,
    contrast: int | None = None,
) -> dict:
    """Write the overlay (.png) and the map (.npy); describe them, with trust and sanity."""
    from PIL import Image

    from model.report import report

    r = report(clf, stages, method, layer, target, contrast)
    e = r.explanation
    out.mkdir(parents=True, exist_ok=True)
    tag = e.method + (f".vs{e.contrast}" if e.contrast is not None else "")
    npy, png = out / f"{_stem(item)}.{tag}.npy", out / f"{_stem(item)}.{tag}.png"
    np.save(npy, e.heatmap)
    Image.fromarray(r.overlay).save(png)
    return {**r.to_dict(), "map": str(npy), "overlay": str(png)}


def load_model(args: argparse.Namespace):
    """The classifier the command line names (any family; see `load_classifier`)."""
    from model import load_classifier

    weights = "imagenet" if args.weights is None else args.weights
    return load_classifier(
        args.model, runtime=args.runtime, preprocessing=args.preprocessing, weights=weights
    )


#: Models with more classes than this print their top-k in plain text.
TOP_K_TEXT_ABOVE = 10


def top_line(clf, pred, k: int) -> str:
    """ "  top-5: tabby 41.0%, tiger cat 20.3%, ..." plus a newline, for models with many
    classes; empty for the digit models (their one line says it all)."""
    if len(clf.class_names) <= TOP_K_TEXT_ABOVE:
        return ""
    tops = ", ".join(f"{t.class_name} {t.probability:.1%}" for t in clf.top(pred, k))
    return f"  top-{k}: {tops}\n"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from model.explain import check
    from model.preprocessing import BlankImageError, ImageError

    clf = load_model(args)
    method = None if args.explain == DEFAULT_EXPLAIN else args.explain
    if args.explain:
        check(clf, method, args.layer)
    files, errors = collect(args.inputs)
    failed = len(errors)
    for e in errors:
        print(e, file=sys.stderr)

    def items(path: Path) -> Iterator[Item]:
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            yield Item(path, path)
            return
        try:
            frames = tqdm(
                video_frames(path, args.fps),
                total=count_samples(path, args.fps),
                desc=path.name,
                unit="frame",
                disable=args.quiet,
                leave=False,
                file=sys.stderr,
            )
            for i, t, rgb in frames:
                yield Item(path, rgb, i, round(t, 3))
        except Exception as exc:  # PyAV raises its own error types
            yield Item(path, exc)

    batch: list[tuple[Item, object]] = []  # (item, its stages, or None for a blank frame)

    def flush() -> None:
        """Predict the waiting inputs in one call; print every result in input order."""
        ready = [s for _, s in batch if s is not None]
        probs = iter(clf.probabilities(np.stack([s.x for s in ready])) if ready else [])
        for item, stages in batch:
            record: dict = {"path": str(item.path)}
            if item.frame is not None:
                record.update(frame=item.frame, time_s=item.time_s)
            if stages is None:  # a blank video frame
                if args.json:
                    print(json.dumps({**record, "label": None, "blank": True}), flush=True)
                continue
            pred = clf.to_prediction(next(probs))
            record.update(pred.to_dict())
            record["top_k"] = [t.to_dict() for t in clf.top(pred, args.top_k)]
            if args.explain:
                record["explanation"] = _write_explanation(
                    clf, item, stages, method, args.layer, args.out, args.target, args.contrast
                )
            if args.json:
                print(json.dumps(record), flush=True)
            else:
                where = "" if item.frame is None else f" frame {item.frame} ({item.time_s:.2f}s)"
                print(f"{item.path}{where}: {pred.class_name} ({pred.probability:.1%})")
                print(top_line(clf, pred, args.top_k), end="")
        batch.clear()

    progress = tqdm(
        files, desc="inputs", unit="file", disable=args.quiet or len(files) < 2, file=sys.stderr
    )
    for item in (item for path in progress for item in items(path)):
        if isinstance(item.image, Exception):
            failed += 1
            print(f"{item.path}: cannot read the video ({item.image})", file=sys.stderr)
            continue
        try:
            batch.append((item, clf.preprocess_stages(item.image)))
        except BlankImageError as exc:
            if item.frame is None:  # a blank frame in a video is normal, a blank file is not
                failed += 1
                print(f"{item.path}: {exc}", file=sys.stderr)
            else:
                batch.append((item, None))
            continue
        except ImageError as exc:
            failed += 1
            print(f"{item.path}: {exc}", file=sys.stderr)
            continue
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from model.explain import METHODS
    from model.inference import PREPROCESSINGS, RUNTIMES, TOP_K

    p = argparse.ArgumentParser(
        prog="python -m model.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", help="image files, folders and videos")
    p.add_argument(
        "--model",
        default="mnist-cnn",
        help="bundled name, Keras Applications name (resnet50, mobilenet_v2, ...) or .keras file",
    )
    p.add_argument(
        "--preprocessing",
        choices=PREPROCESSINGS,
        help="input scaling (or digit recipe) instead of the one the model's card states",
    )
    p.add_argument("--weights", help="Keras Applications: a local ImageNet weights file")
    p.add_argument("--top-k", type=int, default=TOP_K, help="classes in top_k (default 5)")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="auto: float ONNX where exported, else Keras; onnx-int8/onnx-fp16: quantized",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--explain",
        nargs="?",
        const=DEFAULT_EXPLAIN,
        choices=[DEFAULT_EXPLAIN, *METHODS],
        metavar="METHOD",
        help="also write heatmaps, with their trust score (needs --out); without METHOD the "
        f"model's measured default; one of: {', '.join(METHODS)}",
    )
    p.add_argument("--layer", help="layer for class-activation methods (default conv3)")
    p.add_argument("--target", type=int, help="class to explain (default: the prediction)")
    p.add_argument("--contrast", type=int, help="explain 'target and not this class'")
    p.add_argument("--out", type=Path, help="folder for overlays (.png) and maps (.npy)")
    p.add_argument("--fps", type=float, default=2.0, help="video frames sampled per second")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.explain and not args.out:
        p.error("--explain needs --out DIR")
    if (args.target is not None or args.contrast is not None) and not args.explain:
        p.error("--target and --contrast go with --explain")
    if args.top_k < 1:
        p.error("--top-k must be at least 1")
    if args.fps <= 0:
        p.error("--fps must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from model.errors import DigitLensError

    try:
        return run(args)
    except DigitLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from model.backend import quiet_tensorflow

    quiet_tensorflow()  # if an explanation loads TensorFlow: errors only, no banner
    sys.exit(main())
