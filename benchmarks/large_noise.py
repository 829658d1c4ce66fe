"""Noise of any size is refused as noise; real digits, however large, are not.

    python -m benchmarks.large_noise --data-dir ../shared/datasets --n 200

The noise check measures neighbour differences on the 448-pixel working copy, which
averages large noise away, and, for a larger image, on a native-resolution window
(`model.input.refusals.is_noise`). This prints, for uniform noise of several sizes and
for the realistic digit sets (`benchmarks.realistic`, plus photos rendered at 1500-3000
pixels and the 640-pixel photos scaled up), the texture on each and how many are refused
as noise by the working copy alone and by the whole check.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable

import numpy as np
from PIL import Image

from benchmarks.tables import Lines, command_line, write_table

NOISE_SIDES = (28, 100, 300, 449, 640, 1000, 2000, 4000)
#: Longest sides of the large photo renders (the 640x480 photo set scaled in every size).
PHOTO_SIDES = (1500, 2200, 3000)


def _measure(item) -> tuple[float, float, bool, bool]:
    """(working-copy texture, window texture or nan, refused by the copy, refused at all)."""
    from model.input.decode import WORKING_SIDE, decode, normalise_mode, shrink, to_float
    from model.input.refusals import (
        NOISE_WINDOW,
        _central_window,
        _opaque,
        is_noise,
        looks_like_noise,
        texture,
    )

    img = normalise_mode(decode(item, 50_000_000))
    gray, alpha = to_float(shrink(img, WORKING_SIDE))
    work_t = texture(_opaque(gray, alpha))
    win_t = float("nan")
    if max(img.size) > WORKING_SIDE:
        win_t = texture(_opaque(*to_float(_central_window(img, NOISE_WINDOW))))
    return work_t, win_t, looks_like_noise(_opaque(gray, alpha)), is_noise(img, gray, alpha)


def uniform_noise(side: int, colour: bool, rng: np.random.Generator) -> Image.Image:
    """Uniform noise, `side` pixels square, grey or RGB (as `training.ood.noise`, any size)."""
    shape = (side, side, 3) if colour else (side, side)
    return Image.fromarray((rng.random(shape) * 255).astype(np.uint8))


def large_photo(digit: np.ndarray, rng: np.random.Generator, side: int) -> bytes:
    """`benchmarks.realistic.photo` rendered natively at `side` x 3/4 side: grain, sensor
    noise and blur stay per pixel, so the window sees them at full strength."""
    from training.renders import paper, upscale

    s = side / 640
    return paper(upscale(digit, int(rng.integers(90, 300) * s), rng), rng, (side, side * 3 // 4))


def scaled_up(jpeg: bytes, side: int) -> bytes:
    """A 640-pixel photo scaled up (bicubic) to `side`, saved as JPEG again."""
    img = Image.open(io.BytesIO(jpeg))
    big = img.resize((side, side * img.height // img.width), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _row(out: Lines, name: str, items: list) -> None:
    r = [_measure(x) for x in items]
    work = np.array([a for a, _, _, _ in r])
    win = np.array([b for _, b, _, _ in r])
    old = sum(c for _, _, c, _ in r)
    new = sum(d for _, _, _, d in r)
    win_s = f"{np.nanmin(win):.3f}-{np.nanmax(win):.3f}" if np.isfinite(win).any() else "-"
    out(f"| {name} | {len(items)} | {work.min():.3f}-{work.max():.3f} | {win_s} | {old} | {new} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.large_noise",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", help="folder with the MNIST IDX files")
    p.add_argument("--n", type=int, default=200, help="inputs per realistic set")
    p.add_argument("--n-large", type=int, default=30, help="inputs per large render size")
    p.add_argument("--n-noise", type=int, default=6, help="noise images per size and colour")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)

    from model.datasets import load_split, locate
    from training.renders import SETS, fonts_available, make_set, photo

    out = Lines()
    out(
        "| input | n | texture, working copy | texture, native window | "
        "refused as noise (copy only) | refused as noise (copy + window) |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    rng = np.random.default_rng(args.seed)
    for side in NOISE_SIDES:
        for colour in (False, True):
            items = [uniform_noise(side, colour, rng) for _ in range(args.n_noise)]
            _row(out, f"uniform noise {side} px {'RGB' if colour else 'grey'}", items)

    test = load_split(locate("mnist", args.data_dir), "test")
    for kind in [k for k in SETS if k != "font" or fonts_available()]:
        inputs, _ = make_set(kind, test.images, test.labels, args.n, args.seed + SETS[kind])
        _row(out, f"realistic: {kind}", inputs)

    makers: dict[str, Callable[[np.ndarray, np.random.Generator, int], bytes]] = {
        "photo rendered at": large_photo,
        "photo scaled up to": lambda d, r, s: scaled_up(photo(d, r), s),
    }
    for label, make in makers.items():
        for side in PHOTO_SIDES:
            idx = rng.choice(len(test.labels), args.n_large, replace=False)
            _row(out, f"{label} {side} px", [make(test.images[i], rng, side) for i in idx])
    write_table("large-noise", out.markdown, command_line("python -m benchmarks.large_noise", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
