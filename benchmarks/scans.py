"""Real low-resolution scans: the UCI handwritten digits (scikit-learn's 8x8 copy), scaled
up to 280x280 with no margin, read through the product's preprocessing.

    python -m benchmarks.scans [--n 1797]

The 1,797 digits of `sklearn.datasets.load_digits` (bundled with scikit-learn: no
download) were written on forms, scanned and reduced to 8x8 counts of ink
(0..16). Each is scaled to 0..255 and up to 280x280 by bicubic (the issue's set),
bilinear and nearest-neighbour (blocky) resampling; even-numbered digits dark on light,
odd ones light on dark, sent as PNG bytes. For each: accuracy with its 95 % Wilson
interval, and the verdict's shares (`benchmarks.ood.evaluate`).
"""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
from PIL import Image

from benchmarks.tables import Lines, command_line, write_table

#: The scans' side after scaling up (the issue's: the app's canvas size).
SIDE = 280
RESAMPLING = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


def upscaled_scans(resampling: str = "bicubic", n: int | None = None) -> tuple[list, np.ndarray]:
    """(PNG bytes, labels) of the first n sklearn digits scaled up to SIDE x SIDE."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images[:n], digits.target[:n]
    items = []
    for i, counts in enumerate(images):  # (8, 8) float64, 0..16 = ink
        ink = np.round(counts / 16 * 255).astype(np.uint8)
        a = 255 - ink if i % 2 == 0 else ink
        big = Image.fromarray(a).resize((SIDE, SIDE), RESAMPLING[resampling])
        buf = io.BytesIO()
        big.save(buf, "PNG")
        items.append(buf.getvalue())
    return items, np.asarray(labels)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="mnist-cnn")
    p.add_argument("--n", type=int, default=1797, help="digits (all 1,797 by default)")
    args = p.parse_args(argv)

    from benchmarks.ood import evaluate, shares
    from model import load_classifier

    clf = load_classifier(args.model)
    out = Lines()
    out(
        f"model {args.model}; sklearn's 8x8 UCI digits scaled up to {SIDE}x{SIDE}, no margin, "
        "half dark on light\n"
    )
    out(
        "| scaled up by | n | accuracy [95 % interval] | answered `digit` | right when `digit` "
        "| `unsure` | `not_a_digit` | refused |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for name in RESAMPLING:
        items, labels = upscaled_scans(name, args.n)
        r = evaluate(clf, items)
        right = r["label"] == labels
        lo, hi = wilson(int(right.sum()), len(labels))
        digit = r["verdict"] == "digit"
        s = shares(r["verdict"])
        out(
            f"| {name} | {len(labels)} | {right.mean():.1%} [{lo:.1%}, {hi:.1%}] "
            f"| {s['digit']:.1%} | {right[digit].mean():.1%} | {s['unsure']:.1%} "
            f"| {s['not_a_digit']:.1%} | {s['refused']:.1%} |"
        )
    name = "scans" if args.model == "mnist-cnn" else f"scans-{args.model}"
    write_table(name, out.markdown, command_line("python -m benchmarks.scans", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
