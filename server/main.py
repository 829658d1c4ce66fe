"""The FastAPI app: models load once at start-up (lifespan, `server.models.ModelPool`);
our own `/v1` routes live in routes.py, the Open Inference Protocol (`/v2`) in v2.py.

uvicorn --factory server.main:create_app      # or: python -m server --workers 2
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

from model.errors import ModelLoadError
from server import counterfactual, errors, evidence, health, v2
from server.config import ServerConfig
from server.docs import install_docs
from server.metrics import Metrics
from server.models import ModelPool
from server.numbers import router as numbers_router
from server.routes import router

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
            path = getattr(scope.get("route") or _route_of(scope), "path", "unmatched")
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)


def _route_of(scope):
    """The route a request refused before routing (413, 415 and 408 from `BodyLimit`) was
    for, so that /metrics counts it there; None for a path no route serves."""
    from starlette.routing import Match

    state = getattr(scope.get("app"), "state", None)
    for route in getattr(state, "routes", ()):
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def log_like_uvicorn() -> None:
    """The server's own lines through uvicorn's handler, at its level (`--log-level`),
    where uvicorn runs it: they went to Python's last-resort handler, bare ("Expected
    boundary character 45, ..."), and nothing under WARNING was written at all."""
    # A malformed multipart body is the client's, answered 400 (`server.errors`); its
    # parser's warning was a bare line in the log for each.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    # Each app takes the uvicorn it runs under as it is now (a process may configure it
    # again: tests do, at another level); its lines still reach the root's handlers too.
    handlers = logging.getLogger("uvicorn").handlers
    if handlers:
        log.handlers = list(handlers)
        log.setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())


class QuietStartupRefusal:
    """A model that cannot load stops the start-up with one line in the log (`ModelPool.
    start`'s "cannot serve model ..."), and uvicorn's "Application startup failed": the
    traceback Starlette hands uvicorn to print with it (24 frames of the lifespan) is left
    out, as a bad `--log-level` gets a message and no traceback (a user test). Any other
    start-up failure, a bug, keeps its traceback."""

    def __init__(self, app, state) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)

        async def send_quietly(message):
            if message["type"] == "lifespan.startup.failed" and getattr(
                self.state, "refused_at_start", False
            ):
                message = {**message, "message": ""}
            await send(message)

        return await self.app(scope, receive, send_quietly)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    cfg = config or ServerConfig.from_env()
    metrics = Metrics.create()
    log_like_uvicorn()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.decode_slots = asyncio.Semaphore(cfg.decode_concurrency)
        pool = ModelPool(cfg, metrics)
        try:
            await pool.start()
        except ModelLoadError:  # (said in the log by pool.start, in one line)
            app.state.refused_at_start = True
            raise
        app.state.pool = pool
        app.state.models = pool.default  # name -> Served on the default runtime (kept live)
        # Everything loaded so far (FastAPI, pydantic, ONNX Runtime, OpenCV: ~90,000
        # objects) lives as long as the process: move it out of the collector's sight.
        # A full collection over it takes ~19 ms, and it ran every few seconds under
        # load, stalling every request in flight on this worker.
        gc.collect()
        gc.freeze()
        yield
        await pool.stop()

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
    app.state.pool = None
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=cfg.max_body_bytes, timeout_s=cfg.body_timeout_s)

    app.add_middleware(Observe, metrics=metrics)
    app.add_middleware(QuietStartupRefusal, state=app.state)
    routers = (
        router,
        health.router,
        numbers_router,
        v2.router,
        evidence.router,
        counterfactual.router,
    )
    for r in routers:
        app.include_router(r)
    app.state.routes = [route for r in routers for route in r.routes]  # for _route_of
    install_docs(app)
    return app
