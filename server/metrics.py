"""Prometheus metrics: in a registry of the app's own (several apps can live in one
process), or, in a worker of a multi-process server, summed over all its workers.

Multi-process mode is prometheus_client's: when `PROMETHEUS_MULTIPROC_DIR` names a
directory before prometheus_client is first imported (server/workers.py sets it in the
workers' environment), every value lives in an mmap'd file of that directory, one file
per process and metric type, and `MultiProcessCollector` adds them all up at each scrape.
The library picks its value class at import, so the variable cannot be switched on
later in a process: it decides once, for the whole process.

A Gauge added here needs a `multiprocess_mode` (e.g. "livesum"): the supervisor calls
`mark_process_dead` for a worker that died, which drops only "live*" gauges' files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

#: prometheus_client's own variable: the directory shared by a server's worker processes.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class Metrics:
    """The server's metrics; `registry` is what `GET /metrics` exposes."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    batch_size: Histogram
    inference: Histogram
    images: Counter

    @classmethod
    def create(cls) -> Metrics:
        """Fresh metrics in a registry of their own; with `PROMETHEUS_MULTIPROC_DIR` set,
        `registry` instead reads every worker's files in that directory (the sum)."""
        r = CollectorRegistry()
        shared = os.environ.get(MULTIPROC_DIR_ENV)
        exposed = r
        if shared:
            # Not `r`: it would add this process's values a second time.
            exposed = CollectorRegistry()
            MultiProcessCollector(exposed, path=shared)
        return cls(
            registry=exposed,
            requests=Counter(
                "digitlens_requests_total",
                "HTTP requests by route and status",
                ["route", "method", "status"],
                registry=r,
            ),
            latency=Histogram(
                "digitlens_request_seconds",
                "Request latency by route",
                ["route"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            batch_size=Histogram(
                "digitlens_batch_size",
                "Inputs per batched model call",
                ["model"],
                buckets=BATCH_BUCKETS,
                registry=r,
            ),
            inference=Histogram(
                "digitlens_inference_seconds",
                "Seconds per batched model call",
                ["model"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            images=Counter(
                "digitlens_images_total",
                "Images received, by outcome",
                ["model", "outcome"],
                registry=r,
            ),
        )
