"""Issue #21, item 5: the server says no, with the choices, instead of answering something
that was not asked for; and it never names a file on its own disk.

Through FastAPI's TestClient (no subprocess, no port); expectations come from the
server's own `/v1/models` and the registry, not from literals.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from model.why.attribution import METHODS, default_method
from server.config import ServerConfig
from server.main import create_app
from tests.helpers import drawn_digit

MODELS = ("mnist-cnn", "mnist-mlp")
NO_SUCH_LAYER = "conv99"


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


SEVEN = _png(drawn_digit(7))
HEADERS = {"Content-Type": "image/png"}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServerConfig(models=MODELS))) as c:
        yield c


def _layers(client, model: str) -> list[str]:
    return next(m for m in client.get("/v1/models").json() if m["name"] == model)["layers"]


@pytest.mark.parametrize("method", [None, *METHODS])
def test_an_unknown_layer_is_a_422_naming_the_layers_for_every_method(client, method):
    """`?layer=conv99` used to answer 200 with the default map (which reads no layer)."""
    params = {"layer": NO_SUCH_LAYER} | ({"method": method} if method else {})
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params=params)
    assert r.status_code == 422, r.text[:300]
    message = r.json()["error"]["message"]
    layers = _layers(client, "mnist-cnn")
    assert layers and NO_SUCH_LAYER in message
    assert all(layer in message for layer in layers), message


def test_a_layer_on_a_model_without_layers_is_a_422(client):
    assert _layers(client, "mnist-mlp") == []
    params = {"model": "mnist-mlp", "layer": NO_SUCH_LAYER}
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params=params)
    assert r.status_code == 422, r.text[:300]
    assert "no spatial layers" in r.json()["error"]["message"]


def test_a_known_layer_still_explains(client):
    layer = _layers(client, "mnist-cnn")[0]
    params = {"method": "gradcam", "layer": layer}
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params=params)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["layer"] == layer


@pytest.mark.parametrize("method", [None, *(m for m in METHODS if not METHODS[m].needs_conv)])
def test_a_layer_with_a_method_that_reads_none_is_a_422_naming_those_that_do(client, method):
    """`?method=saliency&layer=conv1` (and `?layer=conv1` where the default reads no
    layer) used to answer 200 with a map of no layer, `"layer": null`."""
    layer = _layers(client, "mnist-cnn")[0]
    params = {"layer": layer} | ({"method": method} if method else {})
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params=params)
    default, _ = default_method(client.app.state.models["mnist-cnn"].clf)
    if method is None and METHODS[default].needs_conv:
        assert r.status_code == 200 and r.json()["layer"] == layer, r.text[:300]
        return
    assert r.status_code == 422, r.text[:300]
    message = r.json()["error"]["message"]
    assert "reads no layer" in message and "gradcam" in message, message


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/v1/explain", {"runtime": "onnx-int8"}),
        ("/v1/explain", {"top_k": "2"}),
        ("/v1/predict", {"methd": "saliency"}),
        ("/v1/read", {"top_k": "2", "modle": "mnist-cnn"}),
    ],
)
def test_a_parameter_a_route_does_not_take_is_a_422_naming_those_it_takes(client, route, params):
    """FastAPI drops query parameters it does not know: `/v1/explain?runtime=onnx-int8`
    was answered on the default runtime as if the client had been heard."""
    r = client.post(route, content=SEVEN, headers=HEADERS, params=params)
    assert r.status_code == 422, r.text[:300]
    error = r.json()["error"]
    assert error["code"] == "unknown_parameter"
    assert all(repr(k) in error["message"] for k in params if k in ("runtime", "top_k"))
    assert "model" in error["message"], error["message"]  # what it takes


def test_the_inference_protocol_refuses_a_parameter_it_does_not_take_in_its_own_words(client):
    """`/v2/...?runtme=onnx` was answered on the default runtime, as `/v1` once was."""
    doc = {"inputs": [{"name": "input", "shape": [1, 28, 28, 1], "datatype": "FP32"}]}
    doc["inputs"][0]["data"] = [0.0] * 784
    r = client.post("/v2/models/mnist-cnn/infer", json=doc, params={"runtme": "onnx"})
    assert r.status_code == 422, r.text[:300]
    message = r.json()["error"]  # (the protocol's error body: one string)
    assert "'runtme'" in message and "runtime" in message, message
    assert "version" not in message, message  # (a path's, not a query parameter)
    assert client.post("/v2/models/mnist-cnn/infer", json=doc).status_code == 200
    assert client.get("/v2/models/mnist-cnn", params={"verbose": "1"}).status_code == 422
    assert client.get("/v2/models/mnist-cnn", params={"version": "2"}).status_code == 422
    assert client.get("/v2/models/mnist-cnn/versions/1").status_code == 200
    assert client.get("/v2/models/mnist-cnn/versions/2").status_code == 404


@pytest.mark.parametrize(
    ("route", "query"),
    [
        ("/v1/predict", "model=mnist-mlp&model=mnist-cnn"),
        ("/v1/explain", "method=saliency&method=gradcam"),
        ("/v2/models/mnist-cnn/infer", "runtime=onnx&runtime=litert"),
    ],
)
def test_a_parameter_given_twice_is_a_422_not_the_last_one_silently(client, route, query):
    """`?model=mnist-mlp&model=mnist-cnn` was answered by mnist-cnn alone."""
    if route.startswith("/v2"):
        doc = {"inputs": [{"name": "input", "shape": [1, 28, 28, 1], "datatype": "FP32"}]}
        doc["inputs"][0]["data"] = [0.0] * 784
        r = client.post(f"{route}?{query}", json=doc)
    else:
        r = client.post(f"{route}?{query}", content=SEVEN, headers=HEADERS)
    assert r.status_code == 422, r.text[:300]
    body = r.json()["error"]
    message = body if route.startswith("/v2") else body["message"]
    assert repr(query.split("=")[0]) in message and "more than once" in message, message


def test_probes_and_the_scraper_take_any_parameter_and_head(client):
    assert client.get("/metrics", params={"name[]": "x"}).status_code == 200
    for probe in ("/v2/health/live", "/v2/health/ready", "/v2"):  # (a prober's `?x=1`)
        assert client.get(probe, params={"x": "1"}).status_code == 200, probe
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200


def test_a_model_the_server_was_not_started_with_is_a_404_listing_the_served_ones(client):
    """A digit server used to load any Keras Applications model a request named."""
    loaded = set(client.app.state.pool.loaded)
    for name in ("mobilenet_v2", "resnet50", "fashion-cnn"):
        r = client.post("/v1/predict", content=SEVEN, headers=HEADERS, params={"model": name})
        assert r.status_code == 404, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "unknown_model"
        assert all(m in error["message"] for m in MODELS), error["message"]
        r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params={"model": name})
        assert r.status_code == 404, r.text[:300]
    assert set(client.app.state.pool.loaded) == loaded  # nothing was loaded


def test_a_server_serves_the_models_it_was_started_with_and_no_other():
    """`--models mnist-mlp` used to serve mnist-cnn too, as the default."""
    with TestClient(create_app(ServerConfig.from_env({"DIGITLENS_MODELS": "mnist-mlp"}))) as c:
        assert [m["name"] for m in c.get("/v1/models").json()] == ["mnist-mlp"]
        r = c.post("/v1/predict", content=SEVEN, headers=HEADERS)
        assert r.status_code == 200 and r.json()["model"] == "mnist-mlp", r.text[:300]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--models", "nope"], "'nope' is neither a bundled model"),
        (["--models", "mnist-cnn,mnist-mpl"], "'mnist-mpl'"),
        (["--default-model", "/no/such.keras"], "model file not found"),
        (["--log-level", "bogus"], "invalid choice: 'bogus'"),
        # (these two started a server: a request then got a 422 naming neither; user test)
        (["--allow-model", "mobilenet_v2,nosuchnet"], "--allow-model: 'nosuchnet'"),
        (["--preprocessing", "bogus"], "unknown preprocessing 'bogus'; choose from mnist"),
    ],
)
def test_a_model_or_log_level_no_server_can_start_with_stops_it_in_words(flags, said, capsys):
    """A typo in --models was a line in the log and a server without the model; a bad
    --log-level a traceback from uvicorn."""
    from server.__main__ import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(flags)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_a_keras_file_with_a_broken_card_stops_the_start_up_in_words(tmp_path, capsys):
    """It raised out of the start-up check as a traceback."""
    import shutil

    from model.runtime.artifacts import WEIGHTS_DIR
    from server.__main__ import parse_args

    own = tmp_path / "own.keras"
    shutil.copy(WEIGHTS_DIR / "mnist-mlp.keras", own)
    own.with_suffix(".json").write_text("{ not json")
    with pytest.raises(SystemExit) as exited:
        parse_args(["--models", str(own)])
    assert exited.value.code == 2 and "--models" in capsys.readouterr().err


def test_the_default_model_is_the_first_of_the_models_unless_named():
    from server.__main__ import parse_args

    assert parse_args([]).default_name == "mnist-cnn"
    assert parse_args(["--models", "mnist-mlp,mnist-cnn"]).default_name == "mnist-mlp"
    named = parse_args(["--models", "mnist-mlp", "--default-model", "fashion-cnn"])
    assert named.default_name == "fashion-cnn"
    # from the environment alone too (the factory form, uvicorn --factory): it kept
    # mnist-cnn, resolved before the variable's models replaced the defaults
    env = ServerConfig.from_env({"DIGITLENS_MODELS": "mnist-mlp"})
    assert env.default_name == "mnist-mlp"
    assert ServerConfig.from_env({"DIGITLENS_DEFAULT_MODEL": "mnist-mlp"}).default_name == (
        "mnist-mlp"
    )
    assert parse_args(["--log-level", "DEBUG"]).log_level == "debug"


def test_allow_model_is_a_flag_and_a_variable():
    from server.__main__ import parse_args

    assert parse_args([]).allow_models == ()
    cfg = parse_args(["--allow-model", "mobilenet_v2", "--allow-model", "resnet50,vgg16"])
    assert cfg.allow_models == ("mobilenet_v2", "resnet50", "vgg16")
    env = ServerConfig.from_env({"DIGITLENS_ALLOW_MODELS": "mobilenet_v2"})
    assert env.allow_models == ("mobilenet_v2",)


def test_errors_never_show_a_path_on_the_server(monkeypatch, tmp_path):
    """An allowed model whose weights are missing: 503, and the message names no file (it
    used to say which file to put where, on the server's disk)."""
    from keras.src.utils import file_utils

    def refuse(*args, **kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("DIGITLENS_WEIGHTS_RESNET50", raising=False)
    cfg = ServerConfig(models=("mnist-cnn",), allow_models=("resnet50",))
    rgb = np.random.default_rng(0).integers(0, 256, (90, 120, 3)).astype(np.uint8)
    with TestClient(create_app(cfg)) as client:
        answers = [
            client.post(
                "/v1/predict",
                content=_png(Image.fromarray(rgb)),
                headers=HEADERS,
                params={"model": "resnet50"},
            ),
            client.post(
                "/v1/predict", content=SEVEN, headers=HEADERS, params={"runtime": "onnx-nope"}
            ),
        ]
    assert [a.status_code for a in answers] == [503, 422], [a.text for a in answers]
    for a in answers:
        message = a.json()["error"]["message"]
        assert str(tmp_path) not in message and "/" not in message, message


def test_explain_says_why_the_default_map_is_the_one_it_is(client):
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS)
    assert r.status_code == 200, r.text[:300]
    assert "its card" in r.json()["default_reason"]  # mnist-cnn's card names its default
    r = client.post("/v1/explain", content=SEVEN, headers=HEADERS, params={"method": "saliency"})
    assert r.json()["default_reason"] is None  # a method was asked for


def test_a_model_served_from_a_file_is_known_by_its_name_not_its_path(tmp_path):
    """`--models /srv/secret/own.keras`: clients see and send `own`; the folder never
    shows, not even in the 404 that lists the served models. Without a card, its
    default map is chosen on the first inputs it explains, and the answer says so."""
    from tests.model.test_explain import tiny_model

    folder = tmp_path / "secret-folder"
    folder.mkdir()
    path = folder / "own.keras"
    tiny_model((16, 16, 3)).save(path)
    photo = _png(Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 50, 3), np.uint8)))
    with TestClient(create_app(ServerConfig(models=("mnist-cnn", str(path))))) as client:
        listed = client.get("/v1/models").json()
        assert [m["name"] for m in listed] == ["mnist-cnn", "own"]
        # its "full card": it has none, so its summary (it was {}: a user test)
        assert client.get("/v1/models/own").json() == {**listed[1], "card": None}
        missing = client.post("/v1/predict", content=SEVEN, headers=HEADERS, params={"model": "x"})
        assert missing.status_code == 404 and "own" in missing.json()["error"]["message"]
        r = client.post("/v1/explain", content=photo, headers=HEADERS, params={"model": "own"})
        assert r.status_code == 200, r.text[:300]
        assert r.json()["default_reason"].startswith("chosen on 1 input: best trust score")
        r = client.post(
            "/v1/predict",
            content=photo,
            headers=HEADERS,
            params={"model": "own", "runtime": "keras"},
        )
        assert r.status_code == 200, r.text[:300]  # another runtime loads from the same file
    for answer in (missing, r):
        assert str(folder) not in answer.text and "secret-folder" not in answer.text


def test_the_help_gives_each_options_default(capsys):
    """`python -m server --help` showed no default (a user test): port, limits, batching."""
    from server.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    for option in (
        "--port PORT the port to listen on (default: 8000)",
        "gets 413 (default: 8388608)",
        "--runtime {auto,onnx,onnx-int8,onnx-fp16,keras} the runtime of a request that names "
        "none (default: auto)",
        "(default: loopback only)",  # (said in words: not said twice)
    ):
        assert option in said, said
    assert "(default: loopback only) (default" not in said


def test_the_help_says_a_value_set_by_its_variable(capsys, monkeypatch):
    """With DIGITLENS_HOST=0.0.0.0 the help said "(default: loopback only)" while the server
    bound every interface (a review)."""
    from server.__main__ import parse_args

    monkeypatch.setenv("DIGITLENS_HOST", "0.0.0.0")
    monkeypatch.setenv("DIGITLENS_ALLOW_MODELS", "resnet50")
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "(now $DIGITLENS_HOST: 0.0.0.0)" in said
    assert "(now $DIGITLENS_ALLOW_MODELS: resnet50)" in said


def test_a_preprocessing_the_loader_takes_starts_the_server():
    """The start-up check took only the canonical names: "Caffe", which the loader reads
    as caffe, stopped the server (a review)."""
    from server.__main__ import parse_args

    assert parse_args(["--preprocessing", "Caffe"]).preprocessing == "Caffe"


def test_a_model_that_rescales_0_255_inside_is_served_right_and_says_so(tmp_path):
    """A digit model with Rescaling(1/255) first answered the digit recipe's 0..1 as
    nearly black; it is adapted at load (model.runtime.loading.unit_input_net), and the
    server now says so in /v1/models, as the CLI and the app do (a user test)."""
    import keras

    from model.runtime.artifacts import load_keras_model, resolve

    base = load_keras_model(resolve("mnist-cnn").keras_path)
    inp = keras.Input((28, 28, 1))
    own = tmp_path / "d255.keras"
    keras.Model(inp, base(keras.layers.Rescaling(1 / 255)(inp))).save(own)
    with TestClient(create_app(ServerConfig(models=(str(own),)))) as client:
        listed = {m["name"]: m for m in client.get("/v1/models").json()}
        assert "0..255" in listed["d255"]["input_note"]
        buf = io.BytesIO()
        drawn_digit(7).save(buf, "PNG")
        got = client.post(
            "/v1/predict", content=buf.getvalue(), headers={"Content-Type": "image/png"}
        )
        assert got.status_code == 200 and got.json()["label"] == 7, got.text
