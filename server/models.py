"""The models a server process serves: one classifier and one micro-batcher per
(model, runtime), loaded at start-up for the configured ones and on first request
for other runtimes (`?runtime=onnx-int8`)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from fastapi.concurrency import run_in_threadpool

from model import Classifier, ModelLoadError, Prediction, load_classifier
from model.errors import ModelNotFoundError
from model.runtime.applications import is_application
from model.runtime.artifacts import BUNDLED
from model.runtime.runtimes import RUNTIMES, OnnxRuntime
from server.batching import MicroBatcher
from server.config import ServerConfig
from server.metrics import Metrics

log = logging.getLogger("digitlens.server")


#: Models whose input is at most this many values run their batches on the event loop
#: when on ONNX Runtime: a batch of 32 digits takes ~3 ms there, less than a thread
#: hand-off and the GIL waits it brings (2-worker load test: ~1,270 against ~1,150 req/s).
INLINE_MAX_INPUT = 32 * 32 * 3


def runs_inline(clf: Classifier) -> bool:
    """Whether `clf`'s batches are cheap enough to run on the event loop."""
    return isinstance(clf.runtime, OnnxRuntime) and math.prod(clf.input_shape) <= INLINE_MAX_INPUT


def warm_up(name: str, clf: Classifier) -> None:
    """`--warm-up`: trace a model's default map, Grad-CAM and counterfactual searches now,
    so that the first /v1/explain and /v1/counterfactual answer in a fraction of a second
    (~3 s and ~2 s more before, with TensorFlow's import: scratch timing on this machine).
    It costs each worker TensorFlow's memory whether or not they are asked for (the three
    bundled models warmed: 1.23 GB RSS against 0.21 GB without)."""
    from model.why import counterfactual, report

    start = time.perf_counter()
    report.warm_up(clf)
    counterfactual.warm_up(clf)
    log.info("%s: maps and counterfactuals warmed up in %.1f s", name, time.perf_counter() - start)


@dataclass
class Served:
    clf: Classifier
    batcher: MicroBatcher[Prediction]


#: Runtimes an allowed Keras Applications model can run on as asked.
KERAS_RUNTIMES = ("auto", "keras")
#: A model or runtime that failed to load (an allowed Keras Application offline, without
#: its weights) is not tried again for this long (seconds): each request tried, and
#: failed, to download its weights again (~0.6 s each, a user test). Where the weights
#: are put in place, the next request after this loads it.
LOAD_RETRY_S = 60.0


@dataclass
class ModelPool:
    """Every (model, runtime) this process serves; other runtimes load on first use."""

    config: ServerConfig
    metrics: Metrics
    loaded: dict[tuple[str, str], Served] = field(default_factory=dict)
    #: name -> Served on the configured runtime (`app.state.models`, what `/v1/models`
    #: lists): kept as models load, so an allowed model is listed once it has loaded.
    default: dict[str, Served] = field(default_factory=dict)
    #: Each served model's name (its card's, what clients see and send) -> what it was
    #: loaded from: a bundled or Applications name, or a `.keras` path that stays private.
    sources: dict[str, str] = field(default_factory=dict)
    #: (name, runtime) -> (time.monotonic() of a failed load, its error): a load that failed
    #: is not tried again for LOAD_RETRY_S (`get`).
    failed: dict[tuple[str, str], tuple[float, ModelLoadError]] = field(default_factory=dict)
    _load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def public(self, name: str) -> str:
        """The name clients know a configured model by (`--models /srv/own.keras`: `own`)."""
        return next((n for n, src in self.sources.items() if src == name), name)

    @property
    def default_name(self) -> str:
        """The public name of the default model."""
        return self.public(self.config.default_name)

    async def start(self) -> None:
        """Load every model the server was started with; one that cannot load stops the
        start-up (a server never runs without a model its operator named)."""
        for name in dict.fromkeys((self.config.default_name, *self.config.models)):
            try:
                await self._load(name, self.config.runtime)
            except ModelLoadError as exc:
                log.error("cannot serve model %s: %s", name, exc)
                raise
        allowed = ", ".join(self.config.allow_models) or "none"
        log.info(
            "serving %s (default %s, runtime %s; loaded on a first request: %s)",
            ", ".join(self.default),
            self.default_name,
            self.config.runtime,
            allowed,
        )
        if self.config.warm_up:
            for name, served in self.default.items():
                await run_in_threadpool(warm_up, name, served.clf)

    async def stop(self) -> None:
        for s in self.loaded.values():
            await s.batcher.stop()

    @property
    def served_names(self) -> tuple[str, ...]:
        """Every model a request may name: those loaded at start-up, then the allowed ones
        (`--allow-model`) that load on their first request."""
        return tuple(dict.fromkeys((*self.default, *self.config.allow_models)))

    async def get(self, name: str, runtime: str | None = None) -> Served:
        """The served (model, runtime); a new runtime of a served model, or an allowed
        model (`ServerConfig.allow_models`), loads now.

        Raises ModelNotFoundError for a model this server does not serve, ModelLoadError
        for a runtime that does not exist or has no export for this model.
        """
        asked, runtime = runtime, runtime or self.config.runtime
        if (name, runtime) in self.loaded:
            return self.loaded[(name, runtime)]
        if name not in self.served_names:
            raise ModelNotFoundError(
                f"this server does not serve {name!r}; served: {', '.join(self.served_names)}"
            )
        if runtime not in RUNTIMES:
            raise ModelLoadError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        # An allowed Keras Applications model has no ONNX export: asked for on the server's
        # runtime (none named), it runs on Keras, listed as served on that runtime.
        keras_only = asked is None and is_application(name) and runtime not in KERAS_RUNTIMES
        key = (name, runtime)
        if key in self.failed and time.monotonic() - self.failed[key][0] < LOAD_RETRY_S:
            said = self.failed[key][1]
            said.repeated = True  # (the same error, said again: the log has it once)
            raise said.with_traceback(None)
        async with self._load_lock:
            if key not in self.loaded:
                source = self.sources.get(name, name)
                try:
                    await self._load(source, "auto" if keras_only else runtime, runtime)
                except ModelLoadError as exc:
                    self.failed[key] = (time.monotonic(), exc)
                    raise
                self.failed.pop(key, None)
        return self.loaded[key]

    async def _load(self, source: str, runtime: str, served_as: str | None = None) -> None:
        """Load `source` on `runtime`; it serves requests for `served_as` (default: that)."""
        preprocessing = None if source in BUNDLED else (self.config.preprocessing or None)
        clf = await run_in_threadpool(load_classifier, source, runtime, preprocessing)
        clf.predict_inputs(np.zeros((1, *clf.input_shape), np.float32))  # warm up
        if clf.input_note:
            log.info("%s: %s", clf.name, clf.input_note)
        if clf.judge.lent_note:
            log.info("%s: %s", clf.name, clf.judge.lent_note)
        metrics = self.metrics

        def record(n: int, seconds: float, model: str = clf.name) -> None:
            metrics.batch_size.labels(model).observe(n)
            metrics.inference.labels(model).observe(seconds)

        cfg = self.config
        # Each batch is one model call and one detector call: every answer leaves the
        # batcher with its verdict already decided.
        batcher = MicroBatcher(
            clf.predict_inputs,
            cfg.batch_max_size,
            cfg.batch_max_wait_ms / 1e3,
            on_batch=record,
            inline=runs_inline(clf),
        )
        batcher.start()
        self.sources[clf.name] = source
        key = served_as or runtime
        self.loaded[(clf.name, key)] = Served(clf, batcher)
        if key == cfg.runtime:
            self.default[clf.name] = self.loaded[(clf.name, key)]
