"""Export a `.keras` model to a faster or servable format, beside the source file.

    python -m model.runtime.export --model mnist-cnn --format onnx
    python -m model.runtime.export --model mnist-cnn --format savedmodel --out serving/mnist-cnn/1

`onnx` writes `<name>.onnx`, checks that ONNX Runtime matches Keras on random
and real-looking inputs (max abs difference < 1e-4), and records the export
in the card together with the SHA-256 of the `.keras` file it came from, so a
stale export is never used. The `.keras` file stays the source of truth.

`onnx-int8` and `onnx-fp16` write quantized variants of the float ONNX export
beside it (`<name>.int8.onnx`, `<name>.fp16.onnx`), each described by a small
sidecar `<name>.int8.json` (source SHA-256, method, calibration, agreement with
the float model), so the card is not touched. int8 is static QDQ quantization
(per-channel weights), calibrated on training images from `--data-dir` or
$DIGITLENS_DATA_DIR; fp16 stores the weights as float16 (half the file) and
computes in float32. `--quantize` writes both after the float export.

`litert` writes `<name>.tflite`: the classifier and its digit detector as one LiteRT
graph, checked against ONNX Runtime's fused graph, with a sidecar `<name>.litert.json`
(`model.runtime.litert`; `runtime="auto"` answers single inputs with it where it
measures faster).

`savedmodel` writes a TensorFlow SavedModel with a `serving_default` signature
(input `image`: float32 (N, 28, 28, 1) in [0, 1]; output `probabilities`:
(N, 10)) that TensorFlow Serving and KServe load as they are. It is a build
artefact for deployment, not committed; the folder name is the model version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from model.runtime.artifacts import (
    BUNDLED,
    Artifact,
    file_sha256,
    read_card,
    resolve,
    write_card,
)
from model.runtime.litert_export import export_litert
from model.runtime.loading import rescaled_note, unit_input_net
from model.runtime.norm_fold import fold_norms
from model.runtime.runtimes import (
    ONNX_VARIANTS,
    OnnxRuntime,
    close_call_rows,
    onnx_path_for,
    variant_path,
)

#: The program named in --help and in errors (`python -m digitlens` passes its own).
PROG = "python -m model.runtime.export"

MAX_ABS_DIFF = 1e-4
QUANTIZED = tuple(r for r in ONNX_VARIANTS if r != "onnx")  # onnx-int8, onnx-fp16
#: A quantized variant must give the float model's label on at least this share of
#: the check images, or it is not written.
MIN_AGREEMENT = 0.99
#: Training images that calibrate int8 activation ranges, and test images that check
#: a variant against the float model (both seeded, both from the model's data set).
CALIBRATION_IMAGES = 512
CHECK_IMAGES = 2000
SEED = 0
#: An int8 variant's close calls (its two most likely classes nearer than a margin) are
#: answered by the float model (`OnnxRuntime.settle`). The margin is the smallest of
#: MARGINS with which the settled answers agree with float on CLOSE_CALL_AGREEMENT of
#: HELD_OUT training images (never calibration images, never the test images that the
#: check and the benchmarks use).
MARGINS = (0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3, 0.4, 0.5)
CLOSE_CALL_AGREEMENT = 0.9995
HELD_OUT = 5000


def export_onnx(keras_path: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the ONNX export of `keras_path`, verify it, and record it in the card."""
    keras_path, out = Path(keras_path), (None if out is None else Path(out))
    from model.runtime.artifacts import load_keras_model
    from model.runtime.backend import import_keras

    keras = import_keras()
    net = load_keras_model(keras_path)
    card = read_card(keras_path)
    rescaled = None
    if not (card.preprocessing and card.preprocessing.scaling):  # a digit recipe's 0..1
        # A model that rescales 0..255 in its first layer is exported as the Keras runtime
        # runs it (`unit_input_net`): exported as it was, it read a 7 as "1 (> 99.9 %)".
        unit = unit_input_net(net)
        if unit is not None:
            rescaled, net = rescaled_note(net), unit
    probe = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    expected = np.asarray(net(probe))  # also builds the model, which export needs
    out = out or keras_path.with_suffix(".onnx")
    with tempfile.TemporaryDirectory() as tmp:  # write, verify, then move into place
        tmp_path = Path(tmp) / out.name
        with warnings.catch_warnings():  # (Keras' tf2onnx asks numpy for np.object)
            warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)
            net.export(str(tmp_path), format="onnx", verbose=False)
        got = OnnxRuntime(tmp_path, threads=1)(probe)
        diff = float(np.abs(got - expected).max())
        if diff > MAX_ABS_DIFF:
            raise RuntimeError(f"ONNX export differs from Keras by {diff:.2e} > {MAX_ABS_DIFF}")
        out.write_bytes(tmp_path.read_bytes())
    record = {
        "file": out.name,
        "keras_sha256": file_sha256(keras_path),
        "max_abs_diff_random": diff,
        "exported_with": {"keras": keras.__version__},
    }
    if rescaled:
        record["input_note"] = rescaled
    write_card(keras_path, card.with_runtime("onnx", record))
    return out


def export_savedmodel(keras_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a SavedModel with a `serving_default` signature and check it reloads equal."""
    keras_path, out = Path(keras_path), Path(out)
    from model.runtime.artifacts import load_keras_model
    from model.runtime.backend import import_keras

    import_keras()
    import tensorflow as tf

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


def model_data(
    keras_path: Path, split: str, n: int, data_dir: str | None, held_out: bool = False
) -> np.ndarray:
    """(n, 28, 28, 1) float32 images of the model's own data set, a seeded sample;
    held_out: n others, none of them in the sample of CALIBRATION_IMAGES."""
    from model.datasets import DatasetError, load_split, locate, to_model_input

    dataset = read_card(keras_path).dataset_or_default
    try:
        images = load_split(locate(dataset, data_dir), split).images
    except DatasetError as exc:
        raise RuntimeError(f"quantizing needs {dataset} images: {exc}") from exc
    rng = np.random.default_rng(SEED)
    pick = rng.choice(len(images), min(CALIBRATION_IMAGES if held_out else n, len(images)), False)
    if held_out:
        rest = np.setdiff1d(np.arange(len(images)), pick)
        pick = rng.choice(rest, min(n, len(rest)), replace=False)
    return to_model_input(images[np.sort(pick)])


def choose_margin(reference: np.ndarray, quantized: np.ndarray) -> float | None:
    """The smallest of MARGINS with which a quantized model's answers, its close calls
    answered by the float model, agree with float on CLOSE_CALL_AGREEMENT of the inputs
    ((N, K) probabilities of each); None where none does."""
    same = quantized.argmax(1) == reference.argmax(1)
    for margin in MARGINS:
        if np.mean(same | close_call_rows(quantized, margin)) >= CLOSE_CALL_AGREEMENT:
            return margin
    return None


def _quantize_int8(src: Path, out: Path, calibration: np.ndarray) -> dict:
    """Static QDQ int8 (per-channel weights, uint8 activations) calibrated on `calibration`,
    of the graph with its post-ReLU batch norms folded (`fold_norms`: the elementwise ops
    they leave were 40 % of int8's time)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnx.load(str(src)).graph.input[0].name
    batch = 32

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(range(0, len(calibration), batch))

        def get_next(self):
            i = next(self._it, None)
            return None if i is None else {input_name: calibration[i : i + batch]}

    with tempfile.TemporaryDirectory() as tmp:
        folded, steps = fold_norms(onnx.load(str(src)))
        onnx.save(folded, str(Path(tmp) / "folded.onnx"))
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(Path(tmp) / "folded.onnx"), str(pre), skip_symbolic_shape=True)
        # The softmax stays float: quantized, its output is a multiple of 1/255, and a
        # confident answer came back as probabilities of exactly 1 and 0.
        softmax = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Softmax"]
        quantize_static(
            str(pre),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=softmax,
        )
    return {
        "method": "onnxruntime static QDQ: int8 per-channel weights, uint8 activations, "
        "float softmax",
        "folded": steps,  # post-ReLU batch norms folded first (model.runtime.norm_fold)
        "calibration": {"split": "train", "images": len(calibration), "seed": SEED},
    }


def _to_fp16_weights(src: Path, out: Path) -> dict:
    """Store every float32 weight as float16, cast back to float32 where it is used: half
    the file, float32 arithmetic (ONNX Runtime folds the casts when it loads the model)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    casts = []
    for init in list(g.initializer):
        if init.data_type != TensorProto.FLOAT or len(init.dims) == 0:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name)
        init.CopyFrom(half)
        init.name = f"{half.name}_fp16"
        casts.append(
            helper.make_node("Cast", [init.name], [half.name], to=TensorProto.FLOAT, name=half.name)
        )
    for i, node in enumerate(casts):
        g.node.insert(i, node)
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return {"method": "float16 weights, float32 arithmetic", "calibration": None}


def export_quantized(
    keras_path: str | os.PathLike, runtime: str, data_dir: str | None = None
) -> Path:
    """Write the `runtime` (`onnx-int8` or `onnx-fp16`) variant of the float ONNX export,
    check it against the float model on test images, and write its sidecar JSON."""
    keras_path = Path(keras_path)
    artifact = resolve(keras_path)
    src = onnx_path_for(artifact, "onnx") or export_onnx(keras_path)
    out = variant_path(keras_path, runtime)
    reference = OnnxRuntime(src)
    with tempfile.TemporaryDirectory() as tmp:  # write, check, then move into place
        tmp_path = Path(tmp) / out.name
        if runtime == "onnx-int8":
            cal = model_data(keras_path, "train", CALIBRATION_IMAGES, data_dir)
            info = _quantize_int8(src, tmp_path, cal)
            held = model_data(keras_path, "train", HELD_OUT, data_dir, held_out=True)
            margin = choose_margin(reference(held), OnnxRuntime(tmp_path)(held))
            if margin:
                info["close_calls"] = {
                    "margin": margin,
                    "answered_by": src.name,
                    "chosen_on": {"split": "train", "images": len(held), "held_out": True},
                }
        else:
            info = _to_fp16_weights(src, tmp_path)
        x = model_data(keras_path, "test", CHECK_IMAGES, data_dir)
        ref = reference(x)
        got = OnnxRuntime(tmp_path)(x)
        agreement = float((ref.argmax(1) == got.argmax(1)).mean())
        if info.get("close_calls"):
            settled = OnnxRuntime(tmp_path, close_calls=(src, info["close_calls"]["margin"]))
            info["close_calls"]["test_agreement"] = round(
                float((settled(x).argmax(1) == ref.argmax(1)).mean()), 5
            )
        if agreement < MIN_AGREEMENT:
            raise RuntimeError(
                f"{runtime} agrees with the float model on {agreement:.2%} of test images "
                f"(< {MIN_AGREEMENT:.0%}); not written"
            )
        out.write_bytes(tmp_path.read_bytes())
    sidecar = {
        "runtime": runtime,
        "file": out.name,
        "source": src.name,
        "keras_sha256": file_sha256(keras_path),
        **info,
        "check": {
            "split": "test",
            "images": len(x),
            "top1_agreement_with_float": round(agreement, 5),
            "max_abs_diff": round(float(np.abs(got - ref).max()), 6),
        },
    }
    sidecar_path = variant_path(keras_path, runtime, ".json")
    sidecar_path.write_text(json.dumps(sidecar, indent=2) + "\n")
    return out


def export_litert_pair(keras_path: str | os.PathLike) -> Path:
    """`<name>.tflite`: the classifier and its detector on LiteRT (`model.runtime.litert`),
    checked against ONNX Runtime's fused graph of the same two files."""
    keras_path = Path(keras_path)
    detector = keras_path.with_name(f"{keras_path.stem}.ood.onnx")
    path = onnx_path_for(Artifact(keras_path.stem, keras_path, read_card(keras_path)))
    if path is None or not detector.is_file():
        raise RuntimeError("LiteRT needs a current ONNX export and a detector (<name>.ood.onnx)")
    reference = OnnxRuntime(path, threads=1)
    if not reference.attach_detector(detector):
        raise RuntimeError("the ONNX export and the detector cannot be joined")
    return export_litert(keras_path, detector, reference.predict_and_detect)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        help=f"bundled name or .keras path (repeatable; default: all of {BUNDLED})",
    )
    p.add_argument(
        "--format",
        choices=["onnx", *QUANTIZED, "litert", "savedmodel"],
        default="onnx",
        help="what to write",
    )
    p.add_argument(
        "--quantize", action="store_true", help="onnx: also write the int8 and fp16 variants"
    )
    p.add_argument("--data-dir", help="int8 calibration data (default: $DIGITLENS_DATA_DIR)")
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
                if args.quantize:
                    for runtime in QUANTIZED:
                        print(f"wrote {export_quantized(keras_path, runtime, args.data_dir)}")
            elif args.format in QUANTIZED:
                path = export_quantized(keras_path, args.format, args.data_dir)
            elif args.format == "litert":
                path = export_litert_pair(keras_path)
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
