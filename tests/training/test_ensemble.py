"""training.ensemble: several detectors as one ONNX file answering the mean of their log-odds."""

from __future__ import annotations

import numpy as np
import pytest

from model.judge.verdict import Detector
from model.runtime.artifacts import resolve


def tiny_detector(seed: int) -> bytes:
    """A (N, 28, 28, 1) -> (N, 1) ONNX net: the ink times a random weight map, plus a bias."""
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(784, 1)).astype(np.float32)
    b = rng.normal(size=(1,)).astype(np.float32)
    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logit"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(b, "b"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("logit", onnx.TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    opsets = [helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 2)]  # as exported
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    return model.SerializeToString()


def test_an_ensemble_answers_the_mean_of_its_members(tmp_path):
    from training.ensemble import ensemble

    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"m{seed}.onnx")
        paths[-1].write_bytes(tiny_detector(seed))
    (tmp_path / "mean.onnx").write_bytes(ensemble([p.read_bytes() for p in paths]))
    x = np.random.default_rng(9).random((6, 28, 28), dtype=np.float32)
    members = np.stack([Detector(p).scores(x) for p in paths])
    got = Detector(tmp_path / "mean.onnx").scores(x)
    np.testing.assert_allclose(got, members.mean(0), rtol=1e-5, atol=1e-5)
    assert np.abs(members - got).max() > 0.1  # the members differ: the mean is not one of them


def test_an_ensemble_needs_two_members():
    from training.ensemble import ensemble

    with pytest.raises(ValueError, match="two"):
        ensemble([tiny_detector(0)])


def test_an_ensemble_fuses_with_the_classifier(tmp_path):
    """The shipped detector file may be an ensemble: the fused graph takes it as any other."""
    import onnxruntime as ort

    from model.runtime.fused import fuse
    from training.ensemble import ensemble

    (tmp_path / "mean.onnx").write_bytes(ensemble([tiny_detector(0), tiny_detector(1)]))
    onnx_path = resolve("mnist-cnn").keras_path.with_suffix(".onnx")
    graph = fuse(onnx_path, tmp_path / "mean.onnx")
    assert graph is not None
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).random((4, 28, 28, 1), dtype=np.float32)
    probs, logodds = session.run(None, {session.get_inputs()[0].name: x})
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(
        logodds.reshape(-1), Detector(tmp_path / "mean.onnx").scores(x), rtol=1e-5, atol=1e-5
    )


def test_an_ensemble_joined_with_one_more_net_averages_all_three(tmp_path):
    """ensemble([AB, C]) takes AB apart: a third each, not half AB and half C."""
    from training.ensemble import ensemble

    first = ensemble([tiny_detector(0), tiny_detector(1)])
    (tmp_path / "abc.onnx").write_bytes(ensemble([first, tiny_detector(2)]))
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"m{seed}.onnx")
        paths[-1].write_bytes(tiny_detector(seed))
    x = np.random.default_rng(3).random((5, 28, 28), dtype=np.float32)
    members = np.stack([Detector(p).scores(x) for p in paths])
    got = Detector(tmp_path / "abc.onnx").scores(x)
    np.testing.assert_allclose(got, members.mean(0), rtol=1e-5, atol=1e-5)
    assert np.abs(got - (members[:2].mean(0) + members[2]) / 2).max() > 0.1
