"""A tiny ASGI app that server.workers runs in tests/server/test_metrics.py: at start-up
it records a counter and a live gauge (prometheus_client's multi-process files, one set
per process); every request gets its process id and metrics directory as JSON."""

from __future__ import annotations

import json
import os

from prometheus_client import Counter, Gauge

from server.metrics import MULTIPROC_DIR_ENV


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                Counter("probe_starts", "Worker starts", registry=None).inc()
                Gauge("probe_up", "Live workers", multiprocess_mode="livesum", registry=None).set(1)
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps({"pid": os.getpid(), "dir": os.environ.get(MULTIPROC_DIR_ENV)})
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
