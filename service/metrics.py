"""Prometheus metrics, correct across gunicorn workers (multiprocess mode) and per app in tests.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it), every worker writes
its values to files there and /metrics aggregates them all, whichever worker
answers. Without it each app gets a private registry, so tests can build many apps.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class Metrics:
    """The service's metric objects."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    in_progress: Gauge
    batch_size: Histogram
    batch_seconds: Histogram
    queue_depth: Gauge
    predictions: Counter
    faces_per_image: Histogram
    runtime: Gauge


def multiprocess_dir() -> str | None:
    """The shared metrics directory, when running under several processes."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def make_metrics() -> Metrics:
    """Fresh metric objects in their own registry."""
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "emotion_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "emotion_http_request_duration_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        in_progress=Gauge(
            "emotion_http_requests_in_progress",
            "Requests being handled, by endpoint",
            ["endpoint"],
            registry=registry,
            multiprocess_mode="livesum",
        ),
        batch_size=Histogram(
            "emotion_batch_size", "Faces per model call", buckets=BATCH_BUCKETS, registry=registry
        ),
        batch_seconds=Histogram(
            "emotion_batch_duration_seconds",
            "Duration of one model call",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        # livesum: the sum over live workers is the service's total backlog.
        queue_depth=Gauge(
            "emotion_batch_queue_depth",
            "Faces waiting for a model call",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        predictions=Counter(
            "emotion_predictions", "Predicted faces by top label", ["label"], registry=registry
        ),
        faces_per_image=Histogram(
            "emotion_faces_per_image",
            "Faces found per image",
            buckets=(0, 1, 2, 3, 5, 10, 20, 50),
            registry=registry,
        ),
        # 1 per backend/precision/device in use; livemax: a worker's labels vanish with the worker.
        runtime=Gauge(
            "emotion_inference_runtime",
            "The inference runtime serving the model (value 1), by backend, precision and device",
            ["backend", "precision", "device"],
            registry=registry,
            multiprocess_mode="livemax",
        ),
    )


def exposition(metrics: Metrics) -> bytes:
    """The text format: aggregated over all workers in multiprocess mode, else this app's registry."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(metrics.registry)


def init_app(app: Flask) -> Metrics:
    """Create the metrics, time and count every request, and serve GET /metrics."""
    metrics = make_metrics()

    def endpoint() -> str:
        """The URL rule, not the path: label values stay a small fixed set."""
        return request.url_rule.rule if request.url_rule else "unmatched"

    @app.before_request
    def _start() -> None:
        """Start the clock and count the request as in progress."""
        g.started = time.perf_counter()
        metrics.in_progress.labels(endpoint()).inc()

    @app.after_request
    def _record(response: Response) -> Response:
        """Count the response by endpoint and status; observe the latency."""
        metrics.requests.labels(endpoint(), request.method, str(response.status_code)).inc()
        if "started" in g:
            metrics.latency.labels(endpoint()).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def _finish(exc: BaseException | None) -> None:
        """No longer in progress, however the request ended."""
        if "started" in g:  # teardown runs even when a response could not be built
            metrics.in_progress.labels(endpoint()).dec()

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        """Prometheus text exposition."""
        return Response(exposition(metrics), mimetype=CONTENT_TYPE_LATEST)

    return metrics
