"""Export a `.keras` model to a faster or servable format, beside the source file.

    python -m model.export --model mnist-cnn --format onnx

`onnx` writes `<name>.onnx`, checks that ONNX Runtime matches Keras on random
and real-looking inputs (max abs difference < 1e-4), and records the export
in the card together with the SHA-256 of the `.keras` file it came from, so a
stale export is never used. The `.keras` file stays the source of truth.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from model.artifacts import BUNDLED, read_card, resolve, write_card
from model.inference import file_sha256

MAX_ABS_DIFF = 1e-4


def export_onnx(keras_path: Path, out: Path | None = None) -> Path:
    """Write the ONNX export of `keras_path`, verify it, and record it in the card."""
    import keras

    from model.artifacts import load_keras_model
    from model.inference import OnnxRuntime

    net = load_keras_model(keras_path)
    probe = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    expected = np.asarray(net(probe))  # also builds the model, which export needs
    out = out or keras_path.with_suffix(".onnx")
    with tempfile.TemporaryDirectory() as tmp:  # write, verify, then move into place
        tmp_path = Path(tmp) / out.name
        net.export(str(tmp_path), format="onnx", verbose=False)
        got = OnnxRuntime(tmp_path, threads=1)(probe)
        diff = float(np.abs(got - expected).max())
        if diff > MAX_ABS_DIFF:
            raise RuntimeError(f"ONNX export differs from Keras by {diff:.2e} > {MAX_ABS_DIFF}")
        out.write_bytes(tmp_path.read_bytes())
    card = read_card(keras_path)
    card.setdefault("runtimes", {})["onnx"] = {
        "file": out.name,
        "keras_sha256": file_sha256(keras_path),
        "max_abs_diff_random": diff,
        "exported_with": {"keras": keras.__version__},
    }
    write_card(keras_path, card)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        help=f"bundled name or .keras path (repeatable; default: all of {BUNDLED})",
    )
    p.add_argument("--format", choices=["onnx"], default="onnx")
    args = p.parse_args(argv)
    for name in args.model or BUNDLED:
        try:
            path = export_onnx(resolve(name).keras_path)
        except (LookupError, ValueError, RuntimeError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
