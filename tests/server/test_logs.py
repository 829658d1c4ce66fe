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


def test_each_app_takes_uvicorns_level_as_it_is_when_made():
    """A review: the first app's uvicorn settings stayed for the process (tests configure
    uvicorn again, at another level), and its lines stopped reaching the root's handlers.
    In a process of its own: uvicorn's logging is the process's."""
    from tests.helpers import run_python

    code = (
        "import logging, uvicorn\n"
        "from server.main import create_app, log\n"
        "uvicorn.Config('x:y', log_level='error'); create_app(); first = log.level\n"
        "uvicorn.Config('x:y', log_level='debug'); create_app()\n"
        "print(first == logging.ERROR, log.level == logging.DEBUG, log.propagate)\n"
    )
    done = run_python(code)
    assert done.stdout.strip() == "True True True", done.stderr[-500:]
