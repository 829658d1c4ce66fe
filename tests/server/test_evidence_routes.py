"""POST /v1/neighbours and /v1/activations in process (FastAPI TestClient), on the
bundled models and their shipped evidence files."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from model import load_classifier
from model.why.neighbours import load_index
from server.config import ServerConfig
from server.main import create_app
from tests.helpers import drawn_digit, png

#: They read the bundled models' evidence, built from the training sets.
pytestmark = pytest.mark.usefixtures("bundled_evidence")

MODELS = ("mnist-cnn", "mnist-mlp")


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServerConfig(models=MODELS))) as c:
        yield c


SEVEN = png(drawn_digit(7))


def post(client, path, data=SEVEN, **params):
    return client.post(path, content=data, headers={"Content-Type": "image/png"}, params=params)


def decode(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.mark.parametrize("model", MODELS)
def test_neighbours_route_answers_the_engines_look_alikes(client, model):
    r = post(client, "/v1/neighbours", model=model, k=5)
    assert r.status_code == 200, r.text
    body = r.json()
    clf = load_classifier(model)
    want = clf.neighbours(drawn_digit(7), k=5)
    assert body["prediction"]["label"] == 7 and body["k"] == 5
    assert [n["index"] for n in body["neighbours"]] == [n.index for n in want]
    assert body["summary"] == want.summary and body["agree"] == want.agree
    index = load_index(clf)
    for n in body["neighbours"]:
        assert np.array_equal(decode(n["image_png_base64"]), index.images[n["index"]])
        assert n["label"] == index.labels[n["index"]]
    assert body["atlas"] is not None and body["atlas"]["label"] == 7
    assert body["atlas_missing"] is None


def test_a_model_without_an_atlas_says_why(client, monkeypatch):
    """The look-alikes still come; the atlas is null and `atlas_missing` says why (it was
    null with no reason)."""
    import server.evidence
    from model.errors import EvidenceError

    def missing(clf, x):
        raise EvidenceError("mnist-cnn has no atlas yet (mnist-cnn.atlas.npz); make it once")

    monkeypatch.setattr(server.evidence, "place_input", missing)
    body = post(client, "/v1/neighbours", model="mnist-cnn", k=3).json()
    assert body["atlas"] is None and len(body["neighbours"]) == 3
    assert body["atlas_missing"].startswith("mnist-cnn has no atlas yet")


def test_a_missing_index_is_said_without_the_servers_paths(client, monkeypatch, tmp_path):
    """The engine's advice names the model's file and the Python API ("python -m
    training.evidence --model /srv/models/own.keras ..., clf.neighbours(...)"): a client
    is told what is missing and that the server's operator makes it (a user test)."""
    import server.evidence
    from model.errors import EvidenceError
    from model.why.neighbours import load_index

    own = tmp_path / "models" / "own.keras"
    clf = load_classifier("mnist-cnn")
    monkeypatch.setattr(clf, "artifact", replace(clf.artifact, name="own", keras_path=own))
    with pytest.raises(EvidenceError) as raised:
        load_index(clf)  # (the engine's own error, for a model whose index is not built)
    assert str(own) in str(raised.value) and str(own) not in raised.value.fact

    def missing(clf, x, k):
        raise raised.value

    monkeypatch.setattr(server.evidence, "neighbours_of", missing)
    r = post(client, "/v1/neighbours", model="mnist-cnn", k=3)
    said = r.json()["error"]["message"]
    assert r.status_code == 422 and said.startswith("own has no look-alike index yet")
    assert str(tmp_path) not in said and "clf.neighbours" not in said, said
    assert "this server's operator can make it" in said


def test_neighbours_route_errors(client):
    assert post(client, "/v1/neighbours", k=0).status_code == 422
    assert post(client, "/v1/neighbours", data=b"junk").status_code == 400
    blank = png(Image.new("L", (280, 280)))
    assert post(client, "/v1/neighbours", data=blank).json()["error"]["code"] == "blank_image"
    files = [("files", ("a.png", SEVEN, "image/png")), ("files", ("b.png", SEVEN, "image/png"))]
    r = client.post("/v1/neighbours", files=files)
    assert r.json()["error"]["code"] == "one_image"


def test_activations_route_gives_every_layer_and_grids(client):
    r = post(client, "/v1/activations")
    assert r.status_code == 200, r.text
    body = r.json()
    clf = load_classifier("mnist-cnn")
    acts = clf.activations(drawn_digit(7))
    assert [la["name"] for la in body["layers"]] == list(acts.names)
    conv1 = next(la for la in body["layers"] if la["name"] == "conv1")
    assert conv1["shape"] == [28, 28, 32] and conv1["values"] is None
    grid = decode(conv1["grid_png_base64"])
    assert grid.shape == (6 * 29 - 1, 6 * 29 - 1)  # 32 maps: 6 x 6 tiles of 28 + 1 gap
    fc2 = next(la for la in body["layers"] if la["name"] == "fc2")
    assert fc2["grid_png_base64"] is None


def test_activations_route_chosen_layers_as_arrays(client):
    r = post(client, "/v1/activations", layer=["conv3_1", "output"], arrays="true")
    body = r.json()
    assert [la["name"] for la in body["layers"]] == ["conv3_1", "output"]
    probs = np.array(body["layers"][1]["values"])
    assert probs.argmax() == body["prediction"]["label"] and abs(probs.sum() - 1) < 1e-3
    assert np.array(body["layers"][0]["values"]).shape == (7, 7, 64)
    bad = post(client, "/v1/activations", layer="conv9")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_layer"
