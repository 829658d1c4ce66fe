"""Prometheus metrics, in a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    batch_size: Histogram
    inference: Histogram
    images: Counter

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
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
