"""Prometheus metrics, one registry per app (no process-wide singletons).

`dlrecon serve` runs several processes (HTTP workers, processor). It then sets
`PROMETHEUS_MULTIPROC_DIR` before starting them, prometheus_client keeps every process's values
in files there, and `/metrics` (answered by any worker) adds them up: see `exposition`.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    """Whether this process records into a directory shared by `serve`'s processes."""
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """Everything dlrecon counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        if not multiprocess():
            # per-process figures; with several processes they would describe only the one
            # that answered the scrape, so they are left out there
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self.http_requests = Counter(
            "dlrecon_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "dlrecon_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.callbacks = Counter(
            "dlrecon_callbacks_total",
            "Callbacks by provider key and outcome",
            ["provider", "outcome"],
            registry=r,
        )
        self.inbox_batch_size = Histogram(
            "dlrecon_inbox_batch_size",
            "Requests per group commit",
            registry=r,
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        )
        self.inbox_commit_seconds = Histogram(
            "dlrecon_inbox_commit_seconds",
            "Time to write one inbox batch",
            registry=r,
        )
        self.inbox_queue = Gauge(
            "dlrecon_inbox_queue_depth",
            "Requests waiting for a group commit",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.events = Counter(
            "dlrecon_events_total",
            "Events stored by provider key and canonical status",
            ["provider", "status"],
            registry=r,
        )
        self.quarantined = Counter(
            "dlrecon_quarantined_total",
            "Inbox rows quarantined by the processor",
            ["provider"],
            registry=r,
        )
        self.unmapped_codes = Counter(
            "dlrecon_unmapped_codes_total",
            "Events whose provider code no table maps",
            ["provider"],
            registry=r,
        )
        self.processor_lag = Gauge(
            "dlrecon_processor_lag_seconds",
            "Age of the oldest unprocessed inbox row",
            registry=r,
            multiprocess_mode="livemostrecent",
        )

    def exposition(self) -> bytes:
        """The Prometheus text format: this registry, or every `serve` process added up."""
        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
