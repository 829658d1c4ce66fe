"""The server's log, read as an operator reads it: `python -m server` in its own process."""

import urllib.error
import urllib.request

from tests.helpers import ARTIFACTS, serving


def _post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(url, body, {"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_log_says_what_is_served_and_leaves_clients_slips_out():
    """Its own lines come in uvicorn's format at --log-level (they went to Python's
    last-resort handler: nothing under WARNING, warnings bare), the models it serves
    among them; a client's malformed body or unknown runtime, answered in a 4xx, writes
    nothing (both wrote a line each, one with no context at all; a user test)."""
    args = ["server", "--port", "{port}", "--models", "mnist-mlp", "--allow-model", "mnist-cnn"]
    with serving(args, "/v2/health/ready", "server-log-test.log") as base:
        multipart = "multipart/form-data; boundary=xyz"
        assert _post(base + "/v1/predict", b"garbage", multipart) == 400
        assert _post(base + "/v1/predict?runtime=bogus", b"\x89PNG", "image/png") == 422
    log = (ARTIFACTS / "server-log-test.log").read_text()
    said = "INFO:     serving mnist-mlp (default mnist-mlp, runtime auto; loaded on a first "
    assert said + "request: mnist-cnn)" in log and log.count("serving mnist-mlp") == 1, log
    assert "Expected boundary" not in log and "bogus" not in log, log
