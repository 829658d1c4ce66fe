"""Exports: a verified ONNX file recorded in the card, and a servable SavedModel."""

import json
import shutil

import numpy as np
import pytest

from model.architecture import CNNConfig, build_cnn
from model.load import load_classifier
from model.runtime.artifacts import file_sha256
from model.runtime.export import export_onnx, export_quantized, export_savedmodel, main

TINY = CNNConfig(conv1_filters=4, conv2_filters=4, conv3_filters=4, fc1_units=8, fc2_units=8)


@pytest.fixture
def tiny_model(tmp_path):
    path = tmp_path / "tiny.keras"
    build_cnn(TINY).save(path)
    return path


@pytest.mark.filterwarnings("error::FutureWarning")  # (Keras' np.object notice: not shown)
def test_onnx_export_matches_and_is_recorded(tiny_model):
    out = export_onnx(str(tiny_model))  # (a path as a string too, as a user passes it)
    card = json.loads(tiny_model.with_suffix(".json").read_text())
    assert card["runtimes"]["onnx"]["keras_sha256"] == file_sha256(tiny_model)
    assert card["runtimes"]["onnx"]["max_abs_diff_random"] < 1e-4
    fast, ref = load_classifier(tiny_model), load_classifier(tiny_model, runtime="keras")
    assert fast.runtime.name == "onnxruntime" and out.is_file()
    x = np.random.default_rng(1).random((16, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(fast.probabilities(x), ref.probabilities(x), atol=1e-5)


def test_savedmodel_has_a_serving_signature(tiny_model, tmp_path):
    import tensorflow as tf

    out = export_savedmodel(str(tiny_model), str(tmp_path / "serving" / "tiny" / "1"))
    loaded = tf.saved_model.load(str(out))
    fn = loaded.signatures["serving_default"]
    spec = fn.structured_input_signature[1]["image"]
    assert spec.shape.as_list() == [None, 28, 28, 1] and spec.dtype == tf.float32
    assert list(fn.structured_outputs) == ["probabilities"]
    x = np.random.default_rng(2).random((3, 28, 28, 1), dtype=np.float32)
    got = fn(image=tf.constant(x))["probabilities"].numpy()
    ref = load_classifier(tiny_model, runtime="keras").probabilities(x)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_cli_reports_unknown_models(capsys):
    assert main(["--model", "nope"]) == 1
    assert "nope" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.parametrize("runtime", ["onnx-int8", "onnx-fp16"])
def test_quantized_export_is_checked_and_recorded_beside_the_model(
    tmp_path, runtime, real_data_dir
):
    from model.runtime.artifacts import WEIGHTS_DIR

    for suffix in (".keras", ".json", ".onnx"):  # a trained model: the MLP, small and quick
        shutil.copy(WEIGHTS_DIR / f"mnist-mlp{suffix}", tmp_path / f"mnist-mlp{suffix}")
    model = tmp_path / "mnist-mlp.keras"
    out = export_quantized(model, runtime, str(real_data_dir))
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert out.name == f"mnist-mlp.{runtime.split('-')[1]}.onnx" and sidecar["file"] == out.name
    assert sidecar["keras_sha256"] == file_sha256(model)
    assert sidecar["check"]["top1_agreement_with_float"] >= 0.99
    assert json.loads(model.with_suffix(".json").read_text()) == json.loads(
        (WEIGHTS_DIR / "mnist-mlp.json").read_text()
    )  # the card is untouched
    quantized, ref = load_classifier(model, runtime=runtime), load_classifier(model)
    assert quantized.runtime.path == out
    x = np.random.default_rng(3).random((8, 28, 28), dtype=np.float32)
    tol = 1e-3 if runtime == "onnx-fp16" else 0.2
    np.testing.assert_allclose(quantized.probabilities(x), ref.probabilities(x), atol=tol)
