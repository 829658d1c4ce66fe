"""Post-ReLU batch norms folded before int8 quantization (model.runtime.norm_fold)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from model.runtime.artifacts import WEIGHTS_DIR
from model.runtime.norm_fold import fold_norms

RNG = np.random.default_rng(0)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def tiny(scale: np.ndarray, shared_relu: bool = False) -> onnx.ModelProto:
    """image (N, 2, 6, 6) -> Conv -> Relu -> Mul(scale) -> Add -> MaxPool -> Transpose
    (0, 2, 3, 1) -> flatten -> MatMul -> Add: the CNNs' pattern at its smallest. With
    `shared_relu`, a second output reads the ReLU's map too."""
    c = scale.size
    consts = {
        "w": RNG.normal(size=(c, 2, 3, 3)),
        "wb": RNG.normal(size=c),
        "s": scale.reshape(1, c, 1, 1),
        "b": RNG.normal(size=(1, c, 1, 1)),
        "shape": np.array([-1, 9 * c]),
        "fc": RNG.normal(size=(9 * c, 4)),
        "fcb": RNG.normal(size=4),
    }
    inits = [
        numpy_helper.from_array(v.astype(np.int64 if k == "shape" else np.float32), k)
        for k, v in consts.items()
    ]
    nodes = [
        helper.make_node("Conv", ["image", "w", "wb"], ["z"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["z"], ["r"], name="relu"),
        helper.make_node("Mul", ["r", "s"], ["m"], name="bn_mul"),
        helper.make_node("Add", ["m", "b"], ["a"], name="bn_add"),
        helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Transpose", ["p"], ["t"], perm=[0, 2, 3, 1], name="nhwc"),
        helper.make_node("Reshape", ["t", "shape"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "fc"], ["mm"], name="fc1"),
        helper.make_node("Add", ["mm", "fcb"], ["out"], name="fc1_bias"),
    ]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4])]
    if shared_relu:
        outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ["N", c, 6, 6]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 2, 6, 6])],
        outputs,
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def test_positive_scales_fold_away_with_the_same_outputs():
    model = tiny(np.array([0.5, 2.0, 3.0]))
    folded, steps = fold_norms(model)
    assert len(steps) == 3  # the Mul into the conv, the Add behind the pool, then into fc1
    assert "Mul" not in ops(folded) and ops(folded).count("Add") == 1  # fc1's bias only
    x = RNG.normal(size=(5, 2, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run(folded, x), run(model, x), rtol=1e-5, atol=1e-4)


def test_a_negative_scale_is_left_alone():
    # relu(z) * s != relu(z * s) for s < 0: folding it would change the answers.
    model = tiny(np.array([0.5, -2.0, 3.0]))
    folded, _ = fold_norms(model)
    assert "Mul" in ops(folded)
    x = RNG.normal(size=(5, 2, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run(folded, x), run(model, x), rtol=1e-5, atol=1e-4)


def test_a_relu_read_elsewhere_keeps_its_scale():
    model = tiny(np.array([0.5, 2.0, 3.0]), shared_relu=True)
    folded, _ = fold_norms(model)
    assert "Mul" in ops(folded)  # the second output must still see the unscaled map
    x = RNG.normal(size=(3, 2, 6, 6)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString())
    want = session.run(None, {"image": x})
    got = ort.InferenceSession(folded.SerializeToString()).run(None, {"image": x})
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["mnist-cnn", "fashion-cnn"])
def test_bundled_cnns_lose_their_elementwise_norms(name):
    model = onnx.load(str(WEIGHTS_DIR / f"{name}.onnx"))
    folded, steps = fold_norms(model)
    assert "Mul" not in ops(folded)
    # Four Muls into five convolutions, four Adds behind their pools, conv3's into fc1.
    assert len(steps) == 9 and len(folded.graph.node) == len(model.graph.node) - 5
    x = RNG.uniform(size=(32, 28, 28, 1)).astype(np.float32)
    x[:16] = (x[:16] > 0.8).astype(np.float32)  # strokes-like inputs too
    np.testing.assert_allclose(run(folded, x), run(model, x), atol=1e-5)


def test_a_model_without_norms_comes_back_as_it_was():
    model = onnx.load(str(WEIGHTS_DIR / "mnist-mlp.onnx"))
    folded, steps = fold_norms(model)
    assert steps == [] and folded.SerializeToString() == model.SerializeToString()
