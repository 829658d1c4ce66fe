"""Making `<name>.tflite`: the classifier and its digit detector in one LiteRT graph.

    python -m model.runtime.export --model mnist-cnn --format litert

The detector's ONNX graph is rebuilt in Keras weight for weight (`detector_net`), joined
with the `.keras` network, converted, and checked against ONNX Runtime's fused graph
(`model.runtime.litert.MAX_ABS_DIFF`) before the file and its sidecar are written. Running
and choosing it: `model.runtime.litert`. Needs TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.runtime.artifacts import file_sha256
from model.runtime.backend import import_keras
from model.runtime.litert import MAX_ABS_DIFF, LiteRtPair, Pair, sidecar_path

#: Prefix of a reconstruction term's nodes and weights (`training.reconstruction`).
RECONSTRUCTION = "reconstruction/"


def detector_net(detector: Path):
    """The detector's ONNX graph rebuilt as a Keras model (NHWC), weight for weight: the
    layer kinds `training.ood` uses (3x3 'same' convolutions, ReLU, 2x2 max pooling,
    global average pooling, dense layers), or an ensemble of such detectors
    (`training.ensemble`: the members' nodes prefixed `memberK/`, then the mean of their
    outputs), either with a reconstruction term added (`training.reconstruction`, its
    nodes and weights prefixed `reconstruction/`). ValueError for anything else."""
    keras = import_keras()
    import onnx
    from keras import layers
    from onnx import numpy_helper

    graph = onnx.load(str(detector)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    shape = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim][1:]
    inp = keras.Input(tuple(shape))
    members: dict[str, list] = {}
    tail, reconstruction = [], []
    for node in graph.node:
        prefix = node.name.split("/", 1)[0] if node.name.startswith("member") else ""
        if node.name.startswith(RECONSTRUCTION):
            reconstruction.append(node)
        else:
            (members.setdefault(prefix, []) if prefix else tail).append(node)
    if not members:
        out = _chain(tail, init, graph.input[0].name, shape, inp)
    else:
        outs = [_chain(nodes, init, graph.input[0].name, shape, inp) for nodes in members.values()]
        weight = init.get("ensemble/weight")
        if [n.op_type for n in tail] != ["Sum", "Mul"] or weight is None:
            raise ValueError("an ensemble ends in the mean of its members (Sum, then Mul)")
        if not np.isclose(float(weight), 1 / len(outs)):
            raise ValueError(f"the ensemble weighs its {len(outs)} members by {float(weight)}")
        out = layers.Average()(outs)
    if reconstruction:
        out = layers.Add()([out, _reconstruction_term(init, inp)])
    return keras.Model(inp, out)


def _reconstruction_term(init: dict, inp):
    """`training.reconstruction`'s term as Keras layers: the autoencoder's dense layers,
    the mean squared error (a dense layer of 1/784s) and its scaling (a dense layer)."""
    from keras import layers

    flat = layers.Flatten()(inp)
    h, k = flat, 0
    while f"{RECONSTRUCTION}w{k}" in init:
        w, b = init[f"{RECONSTRUCTION}w{k}"], init[f"{RECONSTRUCTION}b{k}"]
        last = f"{RECONSTRUCTION}w{k + 1}" not in init
        dense = layers.Dense(w.shape[1], activation="sigmoid" if last else "relu")
        h = dense(h)
        dense.set_weights([w, b])
        k += 1
    diff = layers.Subtract()([h, flat])
    square = layers.Multiply()([diff, diff])
    mean = layers.Dense(1, use_bias=False)
    error = mean(square)
    mean.set_weights([np.full((square.shape[-1], 1), 1 / square.shape[-1], np.float32)])
    scale = float(init[f"{RECONSTRUCTION}scale"])
    affine = layers.Dense(1)
    term = affine(error)
    median = float(init[f"{RECONSTRUCTION}median"])
    affine.set_weights([np.array([[scale]], np.float32), np.array([-median * scale], np.float32)])
    return term


def _chain(nodes: list, init: dict, source: str, shape: list[int], h):
    """One detector's nodes, in order, as Keras layers applied to h."""
    from keras import layers

    pending, previous = None, None  # pending: a Dense waiting for its bias (MatMul, Add)
    for node in nodes:
        op = node.op_type
        if op == "Reshape" and node.input[0] == source and shape[-1] == 1:
            pass  # NHWC to NCHW of one channel: layout only (Keras stays NHWC)
        elif op == "Squeeze" and previous == "GlobalAveragePool":
            pass  # Keras' pooling already drops the spatial axes
        elif op == "Conv":
            w, b = init[node.input[1]], init[node.input[2]]  # (O, I, kh, kw), (O,)
            attrs = {a.name: list(a.ints) for a in node.attribute}
            k = w.shape[2]
            if attrs.get("pads") != [k // 2] * 4 or attrs.get("strides", [1, 1]) != [1, 1]:
                raise ValueError(f"unsupported convolution {attrs}")
            conv = layers.Conv2D(w.shape[0], k, padding="same")
            h = conv(h)
            conv.set_weights([w.transpose(2, 3, 1, 0), b])
        elif op == "Relu":
            h = layers.ReLU()(h)
        elif op == "MaxPool":
            attrs = {a.name: list(a.ints) for a in node.attribute}
            h = layers.MaxPooling2D(tuple(attrs["kernel_shape"]), tuple(attrs["strides"]))(h)
        elif op == "GlobalAveragePool":
            h = layers.GlobalAveragePooling2D()(h)
        elif op == "MatMul":
            pending = init[node.input[1]]
        elif op == "Add" and pending is not None:
            dense = layers.Dense(pending.shape[1])
            h = dense(h)
            dense.set_weights([pending, init[node.input[1]].reshape(-1)])
            pending = None
        else:
            raise ValueError(f"the detector uses {op}, which this rebuild does not know")
        previous = op
    return h


def export_litert(keras_path: Path, detector: Path, reference: Pair) -> Path:
    """Write `<name>.tflite` (classifier + detector) and its sidecar; `reference` is ONNX
    Runtime's fused call, which the file must match on random and drawn-like inputs."""
    from model.runtime.artifacts import load_keras_model

    keras = import_keras()
    import tensorflow as tf

    net, det = load_keras_model(keras_path), detector_net(detector)
    inp = keras.Input(tuple(int(d) for d in net.inputs[0].shape[1:]))
    joined = keras.Model(inp, [net(inp), det(inp)])
    out = keras_path.with_suffix(".tflite")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(tf.lite.TFLiteConverter.from_keras_model(joined).convert())
    pair = LiteRtPair(tmp)
    rng = np.random.default_rng(0)
    probes = rng.random((16, *inp.shape[1:]), dtype=np.float32)
    probes[8:] = (probes[8:] > 0.8).astype(np.float32)  # sparse strokes, like a digit
    diff = 0.0
    for x in probes:
        (p, d), (rp, rd) = pair(x[None]), reference(x[None])
        diff = max(diff, float(np.abs(p - rp).max()), float(np.abs(d - rd).max()))
    if diff > MAX_ABS_DIFF:
        tmp.unlink()
        raise RuntimeError(f"LiteRT file differs from ONNX Runtime by {diff:.2e}")
    tmp.replace(out)
    record = {
        "file": out.name,
        "keras_sha256": file_sha256(keras_path),
        "detector_sha256": file_sha256(detector),
        "max_abs_diff": diff,
        "made_with": {"tensorflow": tf.__version__},
    }
    sidecar_path(keras_path).write_text(json.dumps(record, indent=2) + "\n")
    return out
