"""Prometheus metrics for ``GET /metrics``: the queue read from the store at each scrape,
job outcomes and stage durations from the workers of this process, and HTTP traffic.

Each app has its own registry (several apps in one process, as in tests, do not collide).
Distributed workers are other processes: ``gen3d worker --metrics-port`` exposes theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class _StoreCollector(Collector):
    """Queue depth and jobs by status, counted in the store when scraped."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self.counts()
        except Exception:  # an unreachable store shows as missing series, /readyz says why
            return
        jobs = GaugeMetricFamily("gen3d_jobs", "Jobs in the store by status.", labels=["status"])
        for status, count in counts.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "gen3d_queue_depth", "Jobs waiting for a worker.", value=counts.get("queued", 0)
        )


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.stage_seconds = Histogram(
            "gen3d_stage_seconds",
            "Seconds per pipeline stage of finished jobs.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "gen3d_jobs_finished",
            "Jobs run to a final state by workers of this process.",
            ["status"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "gen3d_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "gen3d_http_request_seconds",
            "Seconds to the response's first byte, by route template.",
            ["route"],
            registry=self.registry,
        )

    def watch_store(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_StoreCollector(counts))

    def job_finished(self, status: str, timings: dict[str, Any] | None) -> None:
        self.jobs_finished.labels(status).inc()
        for stage, seconds in (timings or {}).items():
            if stage != "total":
                self.stage_seconds.labels(stage).observe(float(seconds))


class HttpMetricsMiddleware:
    """Counts requests by route template (``/jobs/{job_id}``), never by raw path: the label
    set stays bounded whatever clients send."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_count(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.http_seconds.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_requests.labels(scope["method"], route, str(status)).inc()
