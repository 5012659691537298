"""Prometheus metrics of one server: requests, latency, batches, queue depth, in-flight, served models.

Each server keeps its own registry (nothing global), so several apps in one
process do not collide. With several worker processes (``--workers``) the
server sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start and
``/metrics`` then sums over all of them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
MODEL_LABELS = ("model", "version", "precision")


class ServerMetrics:
    """The server's metric families, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "sentiment_http_requests", "HTTP requests answered, by route template, method and status code",
            ("route", "method", "status"), registry=registry,
        )
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds", "Time from request start to response, by route template",
            ("route",), buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self.in_flight = Gauge(
            "sentiment_http_requests_in_flight", "Requests being handled now",
            registry=registry, multiprocess_mode="livesum",
        )
        self.batch_size = Histogram(
            "sentiment_batch_size_texts", "Texts per scored batch", MODEL_LABELS,
            buckets=_BATCH_BUCKETS, registry=registry,
        )
        self.texts = Counter("sentiment_texts_scored", "Texts scored", MODEL_LABELS, registry=registry)
        self.queue_depth = Gauge(
            "sentiment_queue_depth", "Requests waiting for a batch", MODEL_LABELS,
            registry=registry, multiprocess_mode="livesum",
        )
        self.model_info = Gauge(
            "sentiment_model_info", "1 for each served model, with its device", (*MODEL_LABELS, "device"),
            registry=registry, multiprocess_mode="max",
        )

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of ``GET /metrics``: this process, or all workers in multiprocess mode."""
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
