"""The load test's wrk driver against a real HTTP server: every request posts one of the
PNGs, the summary is parsed, and answers other than 2xx count as errors."""

from __future__ import annotations

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.canvas import canvas_pngs
from benchmarks.load_test import WRK, drive_wrk

pytestmark = pytest.mark.skipif(shutil.which(WRK) is None, reason="wrk is not installed")


def serve(status: int):
    """A keep-alive HTTP/1.1 server answering every POST with `status`, recording bodies."""
    seen: set[bytes] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.add(body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.mark.parametrize("status", [200, 500])
def test_wrk_posts_every_png_and_counts_non_2xx_as_errors(status):
    server, seen = serve(status)
    bodies = canvas_pngs()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/predict"
        r = drive_wrk(url, 4, 1, os.getpid(), "probe", bodies)
    finally:
        server.shutdown()
    assert r.requests > 0
    assert r.errors == (0 if status == 200 else r.requests)
    assert seen == set(bodies)  # each PNG, byte for byte, and nothing else
    p50, p95, p99 = r.percentiles
    assert 0 < p50 <= p95 <= p99
