"""The real server under uvicorn on a free port, over real HTTP."""

import asyncio
import concurrent.futures
import contextlib
import io
import json
import os
import re
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from model.why.attribution import METHODS
from server.config import ServerConfig
from server.v2_tensors import OUTPUTS
from tests.helpers import ARTIFACTS, drawn_digit, serving

pytestmark = pytest.mark.e2e
MAX_BODY = 2_000_000
MAX_PIXELS = 4_000_000


#: The server's deadline for a body that stops arriving (30 s by default): short, for the test.
BODY_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def url():
    with serving(
        [
            "server",
            "--port",
            "{port}",
            "--max-body-bytes",
            str(MAX_BODY),
            "--max-pixels",
            str(MAX_PIXELS),
            "--batch-max-wait-ms",
            "5",
            "--body-timeout-s",
            str(BODY_TIMEOUT_S),
        ],
        "/readyz",
        "server.log",
    ) as base:
        yield base


def encode(img, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def post(url, path, data, ctype="image/png", **params):
    return httpx.post(
        url + path, content=data, headers={"Content-Type": ctype}, params=params, timeout=60
    )


@pytest.mark.parametrize(("digit", "fmt"), [(0, "PNG"), (1, "JPEG"), (4, "BMP"), (7, "WEBP")])
def test_predicts_real_digits(url, digit, fmt):
    r = post(
        url, "/v1/predict", encode(drawn_digit(digit).convert("RGB"), fmt), f"image/{fmt.lower()}"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label"] == digit and body["model"] == "mnist-cnn"
    assert len(body["probabilities"]) == 10 and body["probability"] > 0.5
    assert set(body["timings"]) == {"preprocess_ms", "queue_ms", "inference_ms", "total_ms"}


def test_other_bundled_model_by_query(url):
    r = post(url, "/v1/predict", encode(drawn_digit(7)), model="mnist-mlp")
    assert r.status_code == 200 and r.json()["model"] == "mnist-mlp"


def test_multipart_batch_with_a_bad_file(url):
    files = [
        ("files", ("seven.png", encode(drawn_digit(7)), "image/png")),
        ("files", ("one.png", encode(drawn_digit(1)), "image/png")),
        ("files", ("junk.png", b"nope", "image/png")),
    ]
    r = httpx.post(url + "/v1/predict", files=files, timeout=60)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x.get("label") for x in results[:2]] == [7, 1]
    assert results[2]["filename"] == "junk.png" and results[2]["error"]["code"] == "not_an_image"


def bomb() -> bytes:
    return encode(Image.new("L", (3000, 3000)))  # 9 MP of zeros: ~9 KB of PNG


@pytest.mark.parametrize(
    ("data", "ctype", "params", "status", "code"),
    [
        (b"this is text", "text/plain", {}, 415, "unsupported_media_type"),
        (b"GIF89a not really", "image/gif", {}, 400, "not_an_image"),
        (encode(drawn_digit(7))[:200], "image/png", {}, 400, "not_an_image"),
        (b"", "image/png", {}, 400, "empty_body"),
        (encode(Image.new("L", (280, 280))), "image/png", {}, 422, "blank_image"),
        (bomb(), "image/png", {}, 413, "image_too_large"),
        (b"\0" * (MAX_BODY + 1), "image/png", {}, 413, "body_too_large"),
        (encode(drawn_digit(7)), "image/png", {"model": "resnet"}, 404, "unknown_model"),
    ],
    ids=[
        "text",
        "corrupt",
        "truncated",
        "zero-bytes",
        "blank",
        "bomb",
        "oversized",
        "unknown-model",
    ],
)
def test_bad_input_gets_a_clear_4xx(url, data, ctype, params, status, code):
    r = post(url, "/v1/predict", data, ctype, **params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert "Traceback" not in r.text


def test_chunked_body_over_the_limit(url):
    def chunks():
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"\0" * 65536

    r = httpx.post(
        url + "/v1/predict", content=chunks(), headers={"Content-Type": "image/png"}, timeout=60
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_a_body_that_stops_arriving_gets_408_and_a_slow_steady_one_is_read(url):
    """A client that states a length, sends a little and then nothing is answered 408 once
    nothing has come for --body-timeout-s (it held its request for ever); a slow upload
    whose pieces keep coming is read and answered."""
    port = int(url.rsplit(":", 1)[1])
    head = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + b"Content-Length: 5000\r\n\r\n" + b"\x89PNG" * 25)
        t0 = time.perf_counter()
        answer = read_response(s)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"connection: close" in answer.split(b"\r\n\r\n", 1)[0].lower()
        # The connection ends with it: a byte sent now and then held it open for good.
        s.settimeout(BODY_TIMEOUT_S + 3)
        try:
            s.sendall(b"x")
            got = s.recv(1)
        except (ConnectionResetError, BrokenPipeError):  # (closed before our byte came)
            got = b""
        assert got == b""  # closed, not a timeout
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    assert BODY_TIMEOUT_S <= time.perf_counter() - t0 < BODY_TIMEOUT_S + 10
    body = encode(drawn_digit(7))
    pieces = [body[i : i + len(body) // 4 + 1] for i in range(0, len(body), len(body) // 4 + 1)]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for piece in pieces:  # (3 s in all, each piece well within the deadline)
            time.sleep(0.75 * BODY_TIMEOUT_S / 2)
            s.sendall(piece)
        answer = read_response(s)
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["label"] == 7


def read_response(s: socket.socket) -> bytes:
    """Everything the server sends until it closes or a whole JSON answer is in."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = [
            int(line.split(b":")[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        ]
        if length and len(body) >= length[0]:
            break
    return data


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "magic"}, "unknown explanation method"),
        # (?method=gradcam++ unencoded: its + signs arrive as spaces)
        ({"method": "gradcam  "}, "write 'gradcam++' as 'gradcam%2B%2B'"),
        ({"method": "gradcam", "layer": "fc1"}, "unknown layer"),
        ({"model": "mnist-mlp", "method": "gradcam"}, "has none"),
    ],
)
def test_bad_explanation_requests(url, params, message):
    r = post(url, "/v1/explain", encode(drawn_digit(7)), **params)
    assert r.status_code == 422 and message in r.json()["error"]["message"]


def test_explain_returns_prediction_map_and_overlay(url):
    r = post(url, "/v1/explain", encode(drawn_digit(7)), method="gradcam", layer="conv2_1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["prediction"]["label"] == 7 and body["layer"] == "conv2_1"
    f = body["faithfulness"]
    assert set(f) == {
        "score",
        "deletion_auc",
        "insertion_auc",
        "random_deletion_auc",
        "random_insertion_auc",
    }
    assert all(0 <= f[k] <= 1 for k in f if k.endswith("auc")) and -1 <= f["score"] <= 1
    heat = np.array(body["heatmap"])
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() <= 1
    import base64

    overlay = Image.open(io.BytesIO(base64.b64decode(body["overlay_png_base64"])))
    assert overlay.size == (280, 280) and overlay.mode == "RGB"


def test_still_serving_after_bad_input(url):
    for data in (b"", b"junk", bomb()):
        post(url, "/v1/predict", data)
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    assert post(url, "/v1/predict", encode(drawn_digit(1))).json()["label"] == 1


def test_concurrent_requests_are_batched_and_match_unbatched(url):
    images = [
        encode(drawn_digit(d, offset=(k * 7 - 20, k * 5 - 20)))
        for k in range(8)
        for d in (0, 1, 4, 7)
    ]
    sequential = [post(url, "/v1/predict", im).json() for im in images]
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        concurrent_ = list(pool.map(lambda im: post(url, "/v1/predict", im).json(), images))
    for a, b in zip(sequential, concurrent_, strict=True):
        assert a["label"] == b["label"]
        np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-5)
    assert max(b["batch_size"] for b in concurrent_) > 1


def metric(text: str, name: str, **labels) -> float:
    """The value of one Prometheus sample, whatever the order of its labels (0 if absent)."""
    for m in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} ([0-9.e+]+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if found == labels:
            return float(m.group(2))
    return 0.0


def test_metrics_counters_move(url):
    before = httpx.get(url + "/metrics").text
    for _ in range(3):
        post(url, "/v1/predict", encode(drawn_digit(4)))
    post(url, "/v1/predict", b"junk")
    after = httpx.get(url + "/metrics").text
    ok = dict(route="/v1/predict", method="POST", status="200")
    bad = dict(route="/v1/predict", method="POST", status="400")
    assert (
        metric(after, "digitlens_requests_total", **ok)
        - metric(before, "digitlens_requests_total", **ok)
        == 3
    )
    assert metric(after, "digitlens_requests_total", **bad) > metric(
        before, "digitlens_requests_total", **bad
    )
    assert metric(after, "digitlens_batch_size_count", model="mnist-cnn") > metric(
        before, "digitlens_batch_size_count", model="mnist-cnn"
    )
    assert "digitlens_request_seconds_bucket" in after


def test_models_health_and_docs(url):
    models = httpx.get(url + "/v1/models").json()
    assert {m["name"] for m in models} == {"mnist-cnn", "mnist-mlp", "fashion-cnn"}
    mlp = next(m for m in models if m["name"] == "mnist-mlp")
    gradient_only = [m.name for m in METHODS.values() if not m.needs_conv]
    assert mlp["methods"] == gradient_only and mlp["layers"] == []
    assert httpx.get(url + "/v1/models/mnist-cnn").json()["metrics"]["accuracy"] > 0.99
    assert httpx.get(url + "/readyz").status_code == 200
    assert httpx.get(url + "/docs").status_code == 200
    assert "/v1/predict" in httpx.get(url + "/openapi.json").json()["paths"]
    assert httpx.get(url + "/v1/predict").status_code == 405


# ---------------------------------------------------------------- Open Inference Protocol (v2)


@pytest.fixture(scope="module")
def triton_client(url):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=60)
    yield client
    client.close()


def canvas_batch(digits=(0, 1, 4, 7)) -> np.ndarray:
    """Drawings in model format: (N, 28, 28, 1) float32, as a v2 client sends them."""
    from model import load_classifier

    clf = load_classifier("mnist-cnn")
    return np.stack([clf.preprocess(drawn_digit(d)) for d in digits])[..., None]


def test_v2_health_and_metadata_with_tritonclient(triton_client):
    assert triton_client.is_server_live() and triton_client.is_server_ready()
    assert triton_client.is_model_ready("mnist-cnn") and not triton_client.is_model_ready("nope")
    assert "binary_tensor_data" in triton_client.get_server_metadata()["extensions"]
    meta = triton_client.get_model_metadata("mnist-cnn")
    assert meta["inputs"][0] == {"name": "image", "datatype": "FP32", "shape": [-1, 28, 28, 1]}


@pytest.mark.parametrize("binary", [True, False])
def test_v2_fp32_tensor_with_tritonclient(url, triton_client, binary):
    import tritonclient.http as triton

    x = canvas_batch()
    inp = triton.InferInput("image", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    outputs = [
        triton.InferRequestedOutput(n, binary_data=binary) for n in ("probabilities", "label")
    ]
    result = triton_client.infer("mnist-cnn", [inp], outputs=outputs)
    assert result.as_numpy("label").tolist() == [0, 1, 4, 7]
    probs = result.as_numpy("probabilities")
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    v1 = post(url, "/v1/predict", encode(drawn_digit(7))).json()["probabilities"]
    np.testing.assert_allclose(probs[3], v1, atol=1e-5)  # same answer as /v1


def test_v2_encoded_images_as_bytes_with_tritonclient(triton_client):
    import tritonclient.http as triton

    images = [encode(drawn_digit(d).convert("RGB"), fmt) for d, fmt in ((4, "JPEG"), (7, "PNG"))]
    inp = triton.InferInput("images", [2], "BYTES")
    inp.set_data_from_numpy(np.array(images, dtype=np.object_))
    result = triton_client.infer("mnist-cnn", [inp])
    assert result.as_numpy("label").tolist() == [4, 7]
    assert result.as_numpy("verdict").tolist() == [b"digit", b"digit"]
    assert result.get_response()["model_name"] == "mnist-cnn"


@pytest.mark.parametrize("binary", [True, False])
def test_v2_a_batch_answers_each_image_in_its_place(url, triton_client, binary):
    """One blank image and one that is not an image among drawings: each is answered where
    it stands ("error", the message, label -1), the drawings are read (tritonclient, the
    real server), its answers in binary or JSON. The whole batch was a 422 before."""
    import tritonclient.http as triton

    blank = encode(Image.new("L", (280, 280)))
    images = [encode(drawn_digit(7)), blank, b"not an image", encode(drawn_digit(4))]
    inp = triton.InferInput("images", [4], "BYTES")
    inp.set_data_from_numpy(np.array(images, dtype=np.object_))  # (JSON: UTF-8 text only)
    result = triton_client.infer(
        "mnist-cnn",
        [inp],
        outputs=[triton.InferRequestedOutput(n, binary_data=binary) for n in OUTPUTS],
    )

    def text(name):  # (tritonclient gives BYTES as bytes from binary data, str from JSON)
        return [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy(name)]

    assert result.as_numpy("label").tolist() == [7, -1, -1, 4]
    assert text("verdict") == ["digit", "error", "error", "digit"]
    reasons = text("reason")
    assert reasons[1].startswith("blank_image: ") and reasons[2].startswith("not_an_image: ")
    probs = result.as_numpy("probabilities")
    assert probs[[1, 2]].sum() == 0 and np.allclose(probs[[0, 3]].sum(axis=1), 1, atol=1e-5)
    v1 = post(url, "/v1/predict", encode(drawn_digit(7))).json()
    np.testing.assert_allclose(probs[0], v1["probabilities"], atol=1e-5)
    assert reasons[0] == (v1["reason"] or "")


@pytest.mark.parametrize(
    ("shape", "datatype", "message"),
    [
        ([1, 28, 28], "FP32", "[N, 28, 28, 1]"),
        ([1, 784], "FP32", "[N, 28, 28, 1]"),
        ([1, 28, 28, 1], "INT32", "datatype"),
        ([1, 28, 28, 1], "FP64", "datatype"),
    ],
)
def test_v2_bad_shapes_and_datatypes_get_4xx_json(url, triton_client, shape, datatype, message):
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException, triton_to_np_dtype

    inp = triton.InferInput("image", shape, datatype)
    inp.set_data_from_numpy(np.zeros(shape, triton_to_np_dtype(datatype)))
    with pytest.raises(InferenceServerException) as err:
        triton_client.infer("mnist-cnn", [inp])
    assert err.value.status() == "400" and message in err.value.message()
    # The raw answer is the protocol's JSON error object.
    r = httpx.post(
        url + "/v2/models/mnist-cnn/infer",
        json={"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": [0]}]},
    )
    assert 400 <= r.status_code < 500 and isinstance(r.json()["error"], str)


def test_quantized_runtimes_agree_with_float_over_http(url, triton_client):
    import tritonclient.http as triton

    images = [encode(drawn_digit(d, offset=(k * 8, -k * 6))) for d in (0, 1, 4, 7) for k in (0, 1)]
    ref = [post(url, "/v1/predict", im).json() for im in images]
    for runtime in ("onnx-int8", "onnx-fp16"):
        got = [post(url, "/v1/predict", im, runtime=runtime).json() for im in images]
        assert [g["label"] for g in got] == [r["label"] for r in ref], runtime
    x = canvas_batch()
    inp = triton.InferInput("image", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = triton_client.infer("mnist-cnn", [inp], query_params={"runtime": "onnx-int8"})
    assert result.as_numpy("label").tolist() == [0, 1, 4, 7]


# ---------------------------------------------------------------- several worker processes


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


CONNECTIONS = 64
BATCH_MAX_SIZE = ServerConfig().batch_max_size  # the workers' default
SCRAPES = 8  # /metrics asked this often, each on a new connection: any worker answers
ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def http_post(path: str, port: int, body: bytes) -> bytes:
    """One keep-alive HTTP/1.1 POST of a PNG, as raw bytes."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _sockets(port: int, pids: list[int], state: str) -> dict[int, set[str]]:
    """pid -> the TCP sockets in `state` ("01" established, "0A" listening) on local
    `port` that it holds (as "socket:[inode]"), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == state:
                inodes.add(f"socket:[{f[9]}]")
    held = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # a helper process that has exited
            links = {_link(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
            held[pid] = links & inodes
    return held


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed meanwhile
        return ""


def test_several_workers_share_the_port_and_answer_identically(url):
    """Two workers on one port: both serve, each listens on its own socket, connections
    opened all at once are spread over both, every answer equals the
    single-process server's, and /metrics counts the requests of both workers."""
    images = [encode(drawn_digit(d, offset=(k * 5, k * 3))) for d in (0, 1, 4, 7) for k in range(6)]
    expected = [post(url, "/v1/predict", im).json() for im in images]
    with serving(
        ["server", "--port", "{port}", "--workers", "2", "--models", "mnist-cnn", "--access-log"],
        "/readyz",
        "server-workers.log",
    ) as multi:
        port = int(multi.rsplit(":", 1)[1])
        server_pid = next(
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and f"--port\0{port}\0" in (p / "cmdline").read_text(errors="replace")
        )
        workers = _children(server_pid)
        deadline = time.time() + 60
        while len(workers) < 2 and time.time() < deadline:  # the second may still start
            time.sleep(0.5)
            workers = _children(server_pid)
        before = {w: _cpu_ticks(w) for w in workers}

        def fresh(im):  # a new connection each time, so the kernel spreads them
            with httpx.Client(timeout=60) as c:
                return c.post(
                    multi + "/v1/predict", content=im, headers={"Content-Type": "image/png"}
                ).json()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(fresh, images * 3))
        busy = [w for w in workers if _cpu_ticks(w) > before[w]]

        # 64 keep-alive clients connecting at once, as a load test does: one event loop,
        # every connect in flight together, then one request on each connection.
        async def burst() -> dict[int, int]:
            conns = await asyncio.gather(
                *(asyncio.open_connection("127.0.0.1", port) for _ in range(CONNECTIONS))
            )
            request = http_post("/v1/predict", port, images[0])
            for _, writer in conns:
                writer.write(request)
            for reader, _ in conns:
                assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
            held = _sockets(port, workers, ESTABLISHED)
            for _, writer in conns:
                writer.close()
            return held

        # (asyncio.run in a thread of its own: other tests' tools may hold this thread's loop)
        with concurrent.futures.ThreadPoolExecutor(1) as one:
            held = one.submit(asyncio.run, burst()).result(timeout=120)
        listening = _sockets(port, workers, LISTEN)
        scrapes = []
        for _ in range(SCRAPES):
            with httpx.Client(timeout=60) as c:
                scrapes.append(c.get(multi + "/metrics").text)
    assert len(workers) >= 2 and len(busy) >= 2, (workers, busy)
    # --access-log: a line per request, from every worker (the module's server runs without)
    access = (ARTIFACTS / "server-workers.log").read_text().count('"POST /v1/predict HTTP/1.1" 200')
    assert access == len(got) + CONNECTIONS, access
    assert '"POST /v1/predict HTTP/1.1"' not in (ARTIFACTS / "server.log").read_text()
    # Binomial(64, 1/2) below 16 has odds of 3e-5 with the kernel's hash.
    # Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads
    # new connections over them; with one shared socket (uvicorn's workers) whichever
    # worker wakes first takes most of a burst (25 of 32 in a load test).
    own = [sockets for sockets in listening.values() if sockets]
    assert len(own) >= 2 and len(set.union(*own)) == len(own), listening  # one each
    counts = [len(c) for c in held.values()]
    assert sum(counts) >= CONNECTIONS * 0.9, counts
    assert sum(1 for n in counts if n >= CONNECTIONS // 4) >= 2, counts
    for a, b in zip(expected * 3, got, strict=True):
        assert a["label"] == b["label"]
        np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-6)
    # Both workers served (above), so one worker's own counts fall short of the total:
    # every scrape must show the sum over the workers, whichever of them answered it.
    sent, model = len(got) + CONNECTIONS, dict(model="mnist-cnn")
    for text in scrapes:
        counts = (
            metric(text, "digitlens_images_total", **model, outcome="predicted"),
            metric(text, "digitlens_batch_size_sum", **model),  # one input per image
        )
        assert counts == (sent, sent), counts
        batches = metric(text, "digitlens_batch_size_count", **model)
        assert sent / BATCH_MAX_SIZE <= batches <= sent, batches


def test_a_model_that_cannot_be_served_stops_the_start_up_in_one_line(tmp_path):
    """`python -m server --models FILE` for a model DigitLens cannot answer with (a
    tabular one, one that ends in logits): exit 3 with the reason in one log line, and no
    traceback (24 frames of Starlette's lifespan followed the line, a user test)."""
    import subprocess
    import sys

    import keras
    from keras import layers

    from tests.helpers import ROOT, free_port

    row = keras.Input((20,))
    keras.Model(row, layers.Dense(3, activation="softmax")(row)).save(tmp_path / "rows.keras")
    image = keras.Input((28, 28, 1))
    logits = layers.Dense(10)(layers.Flatten()(image))
    keras.Model(image, logits).save(tmp_path / "logits.keras")
    for name, said in (("rows", "takes (20,)"), ("logits", "not class probabilities")):
        run = subprocess.run(
            [sys.executable, "-m", "server", "--models", str(tmp_path / f"{name}.keras")]
            + ["--port", str(free_port())],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        out = run.stdout + run.stderr
        assert run.returncode == 3, out
        assert f"cannot serve model {tmp_path / name}.keras: {name}.keras" in out, out
        assert said in out and "Traceback" not in out, out
