"""Keras Applications over HTTP: on a server started with `--allow-model mobilenet_v2`,
`?model=mobilenet_v2` loads on first use, answers top-k and explains; without weights
(offline) it is a 503 JSON error that names no file, never a 500.

ImageNet weights cannot be downloaded here: the served model reads a weights file of
random values, named by $DIGITLENS_WEIGHTS_MOBILENET_V2 (the mechanics, not accuracy).
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from server.config import ServerConfig
from server.main import create_app
from tests.helpers import drawn_digit


def _png() -> bytes:
    buf = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (90, 120, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> str:
    import keras

    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2.weights.h5"
    keras.applications.MobileNetV2(weights=None).save_weights(path)
    return str(path)


def _predict(client: TestClient, model: str, **params):
    """POST /v1/predict with the noise photo, as a PNG, for `model`."""
    return client.post(
        "/v1/predict",
        content=_png(),
        headers={"Content-Type": "image/png"},
        params={"model": model, **params},
    )


def _offline(monkeypatch, tmp_path) -> list:
    """No weights in the Keras cache and no network: a download attempt fails at once."""
    from keras.src.utils import file_utils

    calls: list = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("no network here")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return calls


@contextmanager
def _serving_mobilenet(monkeypatch, tmp_path, weights: str, **settings):
    """A client of a digit server started to allow mobilenet_v2 (its weights: the random
    file), offline; `settings`: the server's other settings. Yields (client, calls), the
    download attempts."""
    calls = _offline(monkeypatch, tmp_path)
    monkeypatch.setenv("DIGITLENS_WEIGHTS_MOBILENET_V2", weights)
    cfg = ServerConfig(models=("mnist-cnn",), allow_models=("mobilenet_v2",), **settings)
    with TestClient(create_app(cfg)) as client:
        yield client, calls


def test_keras_application_by_name_predicts_top_k_and_explains(
    random_weights, monkeypatch, tmp_path
):
    with _serving_mobilenet(monkeypatch, tmp_path, random_weights) as (client, calls):
        headers = {"Content-Type": "image/png"}
        r = _predict(client, "mobilenet_v2")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "mobilenet_v2" and len(body["probabilities"]) == 1000
        top = body["top_k"]
        assert len(top) == 5 and top[0]["label"] == body["label"]
        assert top[0]["class_name"] == body["class_name"]
        r = _predict(client, "mobilenet_v2", top_k=3)
        assert len(r.json()["top_k"]) == 3
        r = client.post(
            "/v1/explain",
            content=_png(),
            headers=headers,
            params={"model": "mobilenet_v2", "method": "gradcam"},
        )
        assert r.status_code == 200, r.text
        e = r.json()
        assert e["layer"] == "out_relu" and np.asarray(e["heatmap"]).shape == (224, 224)
        assert e["faithfulness"] is None and "mean colour" in e["trust"]["perturbation"]
        # The digit models answer as before, now with their top-5.
        buf = io.BytesIO()
        drawn_digit(7).save(buf, "PNG")  # (the noise of _png() is refused as noise)
        seven = client.post("/v1/predict", content=buf.getvalue(), headers=headers).json()
        assert len(seven["probabilities"]) == 10 and len(seven["top_k"]) == 5
    assert calls == []


def test_an_allowed_application_runs_on_keras_under_an_onnx_server_and_is_listed(
    random_weights, monkeypatch, tmp_path
):
    """`--runtime onnx-int8 --allow-model mobilenet_v2`: the model has no ONNX export, so
    asked for without a runtime it runs on Keras (it was a 503 "is its weights file not
    on this machine?" with the weights there), and /v1/models lists it once loaded."""
    with _serving_mobilenet(monkeypatch, tmp_path, random_weights, runtime="onnx-int8") as (
        client,
        _,
    ):
        r = _predict(client, "mobilenet_v2")
        assert r.status_code == 200, r.text
        listed = {m["name"] for m in client.get("/v1/models").json()}
        assert listed == {"mnist-cnn", "mobilenet_v2"}
        assert client.get("/v1/models/mobilenet_v2").status_code == 200


def test_offline_without_weights_is_a_503_with_the_message(monkeypatch, tmp_path, caplog):
    """... and tried once a minute, not on every request: each one tried to download the
    weights again (~0.6 s each, a user test); the log says so once a try, not once a
    request (the same long warning on each: a user test)."""
    import server.models

    calls = _offline(monkeypatch, tmp_path)
    monkeypatch.delenv("DIGITLENS_WEIGHTS_RESNET50", raising=False)
    cfg = ServerConfig(models=("mnist-cnn",), allow_models=("resnet50",))
    with TestClient(create_app(cfg)) as client:
        for _ in range(3):
            r = _predict(client, "resnet50")
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["code"] == "model_unavailable"
            assert "not on this machine" in error["message"]
            assert str(tmp_path) not in error["message"]  # the server's disk stays private
        assert len(calls) == 1
        said = [r for r in caplog.records if r.getMessage().startswith("cannot load resnet50")]
        assert len(said) == 1, [r.getMessage()[:60] for r in said]
        card = client.get("/v1/models/resnet50")  # (as a prediction: it was a 404 "no model")
        assert card.status_code == 503 and card.json()["error"]["code"] == "model_unavailable"
        monkeypatch.setattr(server.models, "LOAD_RETRY_S", 0.0)  # (a minute later)
        assert _predict(client, "resnet50").status_code == 503 and len(calls) == 2
        r = client.post("/v1/predict", content=_png(), params={"model": "resnet-51"})
        assert r.status_code == 404


def test_open_inference_protocol_refuses_photo_models_with_a_404(monkeypatch, tmp_path):
    calls = _offline(monkeypatch, tmp_path)
    with TestClient(create_app(ServerConfig(models=("mnist-cnn",)))) as client:
        r = client.get("/v2/models/mobilenet_v2")
        assert r.status_code == 404 and "/v1" in r.json()["error"]
        assert client.get("/v2/models/mnist-cnn").status_code == 200
    assert calls == []  # refused before loading anything


def test_a_digit_recipe_for_an_allowed_application_is_a_422_that_says_why(
    random_weights, monkeypatch, tmp_path
):
    """`--preprocessing mnist` applies to every model not bundled: an allowed Keras
    Application (224x224x3) cannot take it. The client hears why, not "is its weights
    file not on this machine?" (what any load error said before)."""
    with _serving_mobilenet(monkeypatch, tmp_path, random_weights, preprocessing="mnist") as (
        client,
        _,
    ):
        r = _predict(client, "mobilenet_v2")
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "preprocessing_mismatch" and "224x224x3" in error["message"]
        assert str(tmp_path) not in error["message"] and random_weights not in error["message"]
