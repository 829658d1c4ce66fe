"""The FastAPI app: models load once at start-up (lifespan); routes live in routes.py.

uvicorn --factory server.main:create_app      # or: python -m server
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI

from model import ModelLoadError, load_classifier
from server import errors
from server.batching import MicroBatcher
from server.config import ServerConfig
from server.docs import install_docs
from server.metrics import Metrics
from server.routes import Served, router

log = logging.getLogger("digitlens.server")


class Observe:
    """ASGI middleware counting requests and timing them by route template (plain ASGI:
    no per-request task and body copy as with `@app.middleware`)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    cfg = config or ServerConfig.from_env()
    metrics = Metrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        served: dict[str, Served] = {}
        app.state.decode_slots = asyncio.Semaphore(cfg.decode_concurrency)
        for name in dict.fromkeys((cfg.default_model, *cfg.models)):
            try:
                clf = load_classifier(name)
            except ModelLoadError as exc:
                if name == cfg.default_model:
                    raise  # nothing sensible to serve
                log.error("skipping model %s: %s", name, exc)
                continue
            clf.probabilities(np.zeros((1, 28, 28), np.float32))  # warm up

            def record(n: int, seconds: float, model: str = clf.name) -> None:
                metrics.batch_size.labels(model).observe(n)
                metrics.inference.labels(model).observe(seconds)

            batcher = MicroBatcher(
                clf.probabilities, cfg.batch_max_size, cfg.batch_max_wait_ms / 1e3, on_batch=record
            )
            batcher.start()
            served[name] = Served(clf, batcher)
        app.state.models = served
        yield
        for s in served.values():
            await s.batcher.stop()

    app = FastAPI(
        title="DigitLens inference server",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by server/docs.py from vendored assets (no CDN)
        description="Raw image bytes in, the digit and its probability out. "
        "Concurrent requests are answered in shared batches.",
    )
    app.state.config = cfg
    app.state.metrics = metrics
    app.state.models = {}
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=cfg.max_body_bytes)

    app.add_middleware(Observe, metrics=metrics)
    app.include_router(router)
    install_docs(app)
    return app
