"""Export a `.keras` model to a faster or servable format, beside the source file.

    python -m model.export --model mnist-cnn --format onnx
    python -m model.export --model mnist-cnn --format savedmodel --out serving/mnist-cnn/1

`onnx` writes `<name>.onnx`, checks that ONNX Runtime matches Keras on random
and real-looking inputs (max abs difference < 1e-4), and records the export
in the card together with the SHA-256 of the `.keras` file it came from, so a
stale export is never used. The `.keras` file stays the source of truth.

`savedmodel` writes a TensorFlow SavedModel with a `serving_default` signature
(input `image`: float32 (N, 28, 28, 1) in [0, 1]; output `probabilities`:
(N, 10)) that TensorFlow Serving and KServe load as they are. It is a build
artefact for deployment, not committed; the folder name is the model version.
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


def export_savedmodel(keras_path: Path, out: Path) -> Path:
    """Write a SavedModel with a `serving_default` signature and check it reloads equal."""
    import tensorflow as tf

    from model.artifacts import load_keras_model

    net = load_keras_model(keras_path)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
    def serve(image):
        return {"probabilities": net(image, training=False)}

    module = tf.Module()
    module.net = net  # track the variables
    module.serve = serve
    out.parent.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(out), signatures={"serving_default": serve})
    probe = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    got = tf.saved_model.load(str(out)).signatures["serving_default"](image=probe)
    diff = float(np.abs(got["probabilities"].numpy() - np.asarray(net(probe))).max())
    if diff > MAX_ABS_DIFF:
        raise RuntimeError(f"SavedModel differs from Keras by {diff:.2e}")
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
    p.add_argument("--format", choices=["onnx", "savedmodel"], default="onnx")
    p.add_argument(
        "--out", type=Path, help="savedmodel: the version folder (default serving/<name>/1)"
    )
    args = p.parse_args(argv)
    names = args.model or BUNDLED
    if args.out and len(names) > 1:
        p.error("--out takes one --model")
    for name in names:
        try:
            keras_path = resolve(name).keras_path
            if args.format == "onnx":
                path = export_onnx(keras_path)
            else:
                path = export_savedmodel(
                    keras_path, args.out or Path("serving") / keras_path.stem / "1"
                )
        except (LookupError, ValueError, RuntimeError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
