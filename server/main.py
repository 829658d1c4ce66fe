"""The FastAPI app: models load once at start-up (lifespan); routes live in routes.py.

uvicorn --factory server.main:create_app      # or: python -m server
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request

from model import load_classifier
from server import errors
from server.batching import MicroBatcher
from server.config import ServerConfig
from server.metrics import Metrics
from server.routes import Served, router

log = logging.getLogger("digitlens.server")


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
            except (LookupError, ValueError) as exc:
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
        description="Raw image bytes in, the digit and its probability out. "
        "Concurrent requests are answered in shared batches.",
    )
    app.state.config = cfg
    app.state.metrics = metrics
    app.state.models = {}
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=cfg.max_body_bytes)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(path, request.method, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - start)
        return response

    app.include_router(router)
    return app
