"""Export the compiled gradient passes of the bundled models to ONNX (`model.why.onnx_passes`).

    python -m training.passes --data-dir DATA_DIR                  # every bundled model
    python -m training.passes --model mnist-cnn --data-dir DATA_DIR

For each model: the input's pass (saliency, gradient x input, SmoothGrad, Integrated
Gradients) and, with convolutions, the default CAM layer's (Grad-CAM and its kin). Each is
checked against TensorFlow on random and real inputs at batch sizes 1, 7 and 32 before it
is written.

tf2onnx converts the traced graph; the gradient ops it has no converter for are written
here in ONNX: ReluGrad (a `Where`), MaxPoolGrad (ONNX MaxPool's indices, the gradient
scattered back to them) and the shape plumbing of a batch of any size (ShapeN,
BroadcastGradientArgs, ConcatOffset).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.runtime.artifacts import file_sha256
from model.runtime.export import model_data
from model.runtime.runtimes import _session
from model.why.onnx_passes import INPUT, pass_path, sidecar_path

#: A pass is written only where it matches TensorFlow to this (absolute, on gradients and
#: logits of real digits and random inputs).
MAX_ABS_DIFF = 1e-4
#: Batch sizes the export is checked on (one map; Integrated Gradients' steps).
CHECK_BATCHES = (1, 7, 32)
OPSET = 17


def _handlers() -> dict[str, tuple[Any, list]]:
    """tf2onnx converters for the gradient ops it lacks (see the module's docstring)."""
    from onnx import numpy_helper
    from tf2onnx import utils

    def const(ctx, value: np.ndarray) -> str:
        return ctx.make_const(utils.make_name("c"), value).output[0]

    def relu_grad(ctx, node, name, args):
        grads, features = node.input
        positive = ctx.make_node("Greater", [features, const(ctx, np.float32(0))]).output[0]
        zeros = ctx.make_node("Mul", [grads, const(ctx, np.float32(0))]).output[0]
        node.type = "Where"
        ctx.replace_inputs(node, [positive, grads, zeros])

    def max_pool_grad(ctx, node, name, args):
        # The gradient goes to the input pixel each window took its maximum from: ONNX
        # MaxPool's Indices (flat over the NCHW input) are those pixels.
        x, _, grads = node.input
        if node.get_attr_value("data_format", b"NHWC") not in (b"NHWC", "NHWC"):
            raise ValueError("MaxPoolGrad: only NHWC is converted")
        padding = node.get_attr_value("padding")
        if padding not in (b"VALID", "VALID"):
            raise ValueError(f"MaxPoolGrad: padding {padding!r} is not converted")
        ksize, strides = node.get_attr_value("ksize"), node.get_attr_value("strides")
        nchw = ctx.make_node("Transpose", [x], attr={"perm": [0, 3, 1, 2]}).output[0]
        pool = ctx.make_node(
            "MaxPool",
            [nchw],
            attr={"kernel_shape": ksize[1:3], "strides": strides[1:3]},
            output_count=2,
        )
        flat = const(ctx, np.array([-1], np.int64))
        g = ctx.make_node("Transpose", [grads], attr={"perm": [0, 3, 1, 2]}).output[0]
        g = ctx.make_node("Reshape", [g, flat]).output[0]
        where = ctx.make_node("Reshape", [pool.output[1], flat]).output[0]
        shape = ctx.make_node("Shape", [nchw]).output[0]
        zero = numpy_helper.from_array(np.zeros(1, np.float32))
        zeros = ctx.make_node("ConstantOfShape", [shape], attr={"value": zero}).output[0]
        zeros = ctx.make_node("Reshape", [zeros, flat]).output[0]
        scattered = ctx.make_node(
            "ScatterElements", [zeros, where, g], attr={"axis": 0, "reduction": "add"}
        ).output[0]
        back = ctx.make_node("Reshape", [scattered, shape]).output[0]
        for key in list(node.attr):
            del node.attr[key]
        node.type = "Transpose"
        node.set_attr("perm", [0, 2, 3, 1])
        ctx.replace_inputs(node, [back])

    def _shape(ctx, tensor: str, out_type: int | None) -> str:
        shape = ctx.make_node("Shape", [tensor]).output[0]
        if out_type == 3:  # TF's int32: shapes are int64 in ONNX
            shape = ctx.make_node("Cast", [shape], attr={"to": 6}).output[0]
        return shape

    def shape_n(ctx, node, name, args):
        out_type = node.get_attr_value("out_type", 3)
        for tensor, out in zip(list(node.input), list(node.output), strict=True):
            ctx.replace_all_inputs(out, _shape(ctx, tensor, out_type))
        ctx.remove_node(node.name)

    def broadcast_gradient_args(ctx, node, name, args):
        # The axes to sum each operand's gradient over: every axis where its (left-padded)
        # shape is 1. Summing an axis of size 1 everywhere is a no-op, so this superset of
        # TensorFlow's answer gives the same gradients.
        s0, s1 = node.input
        ranks = [ctx.get_shape(s)[0] for s in (s0, s1)]
        rank = max(ranks)
        dtype = ctx.get_dtype(s0)
        np_type = np.int64 if dtype == 7 else np.int32
        for s, r, out in zip((s0, s1), ranks, list(node.output), strict=True):
            padded = s
            if r < rank:
                ones = const(ctx, np.ones(rank - r, np_type))
                padded = ctx.make_node("Concat", [ones, s], attr={"axis": 0}).output[0]
            is_one = ctx.make_node("Equal", [padded, const(ctx, np.ones(1, np_type))]).output[0]
            axes = ctx.make_node("NonZero", [is_one]).output[0]  # (1, m) int64
            axes = ctx.make_node("Reshape", [axes, const(ctx, np.array([-1], np.int64))])
            axes = axes.output[0]
            if np_type == np.int32:
                axes = ctx.make_node("Cast", [axes], attr={"to": 6}).output[0]
            ctx.replace_all_inputs(out, axes)
        ctx.remove_node(node.name)

    def concat_offset(ctx, node, name, args):
        # Where each input of a concatenation starts: zeros, but along the axis the sum of
        # the sizes before it.
        axis_node, *shapes = node.inputs
        axis = int(axis_node.get_tensor_value())
        rank = ctx.get_shape(node.input[1])[0]
        axis %= rank
        dtype = ctx.get_dtype(node.input[1])
        np_type = np.int64 if dtype == 7 else np.int32
        unit = np.zeros(rank, np_type)
        unit[axis] = 1
        unit_c = const(ctx, unit)
        offset = const(ctx, np.zeros(rank, np_type))
        for i, out in enumerate(list(node.output)):
            ctx.replace_all_inputs(out, offset)
            if i + 1 < len(node.output):
                size = ctx.make_node("Mul", [node.input[1 + i], unit_c]).output[0]
                offset = ctx.make_node("Add", [offset, size]).output[0]
        del shapes
        ctx.remove_node(node.name)

    return {
        "ReluGrad": (relu_grad, []),
        "MaxPoolGrad": (max_pool_grad, []),
        "ShapeN": (shape_n, []),
        "BroadcastGradientArgs": (broadcast_gradient_args, []),
        "ConcatOffset": (concat_offset, []),
    }


def _shared_weights(proto: Any) -> Any:
    """The graph with each transposed copy of a weight matrix (tf2onnx folds the backward
    pass' transposes into constants) made a Transpose of the original again: ONNX Runtime
    folds it back when the session is made, and the file keeps each weight once."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    kept: dict[bytes, str] = {}  # a kept matrix's bytes -> its name
    nodes = []
    for init in graph.initializer:
        a = numpy_helper.to_array(init)
        if a.ndim != 2:
            continue
        original = kept.get(np.ascontiguousarray(a.T).tobytes())
        if original is None:
            kept[a.tobytes()] = init.name
        else:
            nodes.append(helper.make_node("Transpose", [original], [init.name], perm=[1, 0]))
    copies = {n.output[0] for n in nodes}
    kept = [i for i in graph.initializer if i.name not in copies]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for n in reversed(nodes):
        graph.node.insert(0, n)
    return proto


def _probe_inputs(net: Any, keras_path: Path, data_dir: str | None) -> np.ndarray:
    """Random inputs and, where the model's data set is found, real ones."""
    shape = tuple(int(d) for d in net.inputs[0].shape[1:])
    x = np.random.default_rng(0).random((32, *shape), dtype=np.float32)
    try:
        real = model_data(keras_path, "test", 32, data_dir)
    except RuntimeError:  # its data set is not here: random inputs still check the graph
        return x
    if real.shape[1:] != shape:  # not a 28x28 digit model
        return x
    return np.concatenate([x, real.astype(np.float32)])


def export_passes(
    keras_path: Path, layers: list[str | None], data_dir: str | None = None
) -> dict[str, Any]:
    """Convert the passes of `layers` (None: the input's) to ONNX, check them against
    TensorFlow, write them and the sidecar. Returns the sidecar's record."""
    import tensorflow as tf
    import tf2onnx

    from model.runtime.loading import load_net
    from model.why.passes import NO_CLASS, TRACE_LOCK, Passes

    net = load_net(keras_path)
    passes = Passes(net)
    x = _probe_inputs(net, keras_path, data_dir)
    k = int(net.outputs[0].shape[-1])
    rng = np.random.default_rng(1)
    record: dict[str, Any] = {"keras_sha256": file_sha256(keras_path), "layers": {}}
    for layer in layers:
        fn = passes._fn(layer)
        with TRACE_LOCK:  # the recording wrappers exist only while this traces
            proto, _ = tf2onnx.convert.from_function(
                tf.function(fn.python_function),
                input_signature=fn.input_signature,
                opset=OPSET,
                custom_op_handlers=_handlers(),
            )
        proto = _shared_weights(proto)
        out = pass_path(keras_path, layer)
        data = proto.SerializeToString()
        session = _session(data, 1)
        names = [i.name for i in session.get_inputs()]
        worst = 0.0
        for n in CHECK_BATCHES:
            for start in range(0, len(x), n):
                xb = x[start : start + n]
                t = rng.integers(0, k, len(xb)).astype(np.int32)
                c = np.where(rng.random(len(xb)) < 0.5, NO_CLASS, rng.integers(0, k, len(xb)))
                c = c.astype(np.int32)
                got = session.run(None, dict(zip(names, (xb, t, c), strict=True)))
                want = [r.numpy() for r in fn(xb, t, c)]
                worst = max(
                    worst, *(float(np.abs(a - b).max()) for a, b in zip(got, want, strict=True))
                )
        if worst > MAX_ABS_DIFF:
            raise RuntimeError(
                f"the ONNX pass of {layer or INPUT} differs from TensorFlow by {worst:.2e}"
            )
        out.write_bytes(data)
        record["layers"][layer or INPUT] = {"file": out.name, "max_abs_diff": worst}
    record["exported_with"] = {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__}
    sidecar_path(keras_path).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    from model.load import load_classifier
    from model.runtime.artifacts import BUNDLED
    from model.why.attribution import default_cam_layer

    p = argparse.ArgumentParser(
        prog="python -m training.passes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", action="append", help="bundled model (default: all)")
    p.add_argument("--data-dir", help="where the model's data set is, for real check inputs")
    args = p.parse_args(argv)
    for name in args.model or list(BUNDLED):
        clf = load_classifier(name)
        layers: list[str | None] = [None]
        if clf.conv_layers:
            layers.append(default_cam_layer(clf))
        record = export_passes(clf.artifact.keras_path, layers, args.data_dir)
        for info in record["layers"].values():
            print(f"{name}: {info['file']} (largest difference {info['max_abs_diff']:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
