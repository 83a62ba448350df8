"""Prometheus metrics of one service: requests, jobs by state, job durations.

Each service object owns its registry (no process-global state), so several apps in one test
process keep separate counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

__all__ = ["ServiceMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _JobStateCollector:
    """Reads job counts and the pool's load at scrape time: gauges that cannot drift."""

    def __init__(self, read: Callable[[], Mapping[str, int]],
                 pool: Callable[[], tuple[int, int]]) -> None:
        self._read = read
        self._pool = pool

    def collect(self):
        family = GaugeMetricFamily("pesto_jobs", "Asynchronous jobs by state", labels=["state"])
        for state, count in self._read().items():
            family.add_metric([state], count)
        yield family
        busy, waiting = self._pool()
        yield GaugeMetricFamily("pesto_workers_busy", "Workers running a job (sync or async)",
                                value=busy)
        yield GaugeMetricFamily("pesto_queue_waiting", "Jobs waiting for a worker", value=waiting)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pesto_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=self.registry)
        self.durations = Histogram(
            "pesto_job_duration_seconds", "Job durations, from queueing to outcome",
            ["mode", "outcome"], registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))

    def watch_job_states(self, read: Callable[[], Mapping[str, int]],
                         pool: Callable[[], tuple[int, int]]) -> None:
        self.registry.register(_JobStateCollector(read, pool))

    def request(self, method: str, route: str, status: int) -> None:
        self.requests.labels(method, route, str(status)).inc()

    def job_finished(self, mode: str, outcome: str, seconds: float) -> None:
        self.durations.labels(mode, outcome).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
