"""Prometheus metrics: request latency per route template, connection-pool usage, ingest counts.

The metric objects live at module level in prometheus-client's default registry, so they are
created once per process however many applications :func:`api.app.create_app` builds (tests
build many). Pool figures are read from the serving application's own pool at scrape time
(:func:`exposition`), so two applications in one process never report each other's pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUEST_SECONDS = Histogram(
    "fartkoll_http_request_duration_seconds",
    "Time from request to the end of the response, seconds, by method, route template and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# Incremented by the ingest routes: one count per vehicle pass a sign sent, by what became of it.
INGEST_PASSES = Counter(
    "fartkoll_ingest_passes_total",
    "Vehicle passes received over HTTP ingest, by sign serial and outcome (accepted|duplicate|rejected).",
    ["sign", "outcome"],
)

UNMATCHED = "unmatched"  # the route label of requests no route answered (404s of unknown paths)


def route_template(scope: dict[str, Any]) -> str:
    """The path template that answered the request (``/api/v1/sites/{site_id}``), never the raw
    path, so each route is one time series whatever ids are asked for."""
    # FastAPI (0.16x) records the matched route of an included router, with its prefix, here
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template:
        return template
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template or UNMATCHED


class PoolCollector(Collector):
    """Usage of one psycopg_pool ``ConnectionPool`` from its ``get_stats()``."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self.pool.get_stats()
        gauges = {
            "fartkoll_db_pool_size": ("Connections the pool holds (busy or idle).", "pool_size"),
            "fartkoll_db_pool_available": ("Idle connections ready for a request.", "pool_available"),
            "fartkoll_db_pool_waiting": ("Requests waiting for a connection now.", "requests_waiting"),
            "fartkoll_db_pool_min": ("The pool's minimum size.", "pool_min"),
            "fartkoll_db_pool_max": ("The pool's maximum size.", "pool_max"),
        }
        for name, (doc, key) in gauges.items():
            yield GaugeMetricFamily(name, doc, value=stats.get(key, 0))
        counters = {
            "fartkoll_db_pool_requests": ("Connections requested from the pool.", "requests_num"),
            "fartkoll_db_pool_requests_queued": ("Requests that had to wait for a connection.", "requests_queued"),
            "fartkoll_db_pool_requests_errors": ("Requests that got no connection (timeout, error).", "requests_errors"),
            "fartkoll_db_pool_connections_errors": ("Failed attempts to open a connection.", "connections_errors"),
            "fartkoll_db_pool_connections_lost": ("Connections found broken and discarded.", "connections_lost"),
        }
        for name, (doc, key) in counters.items():
            yield CounterMetricFamily(name, doc, value=stats.get(key, 0))
        yield CounterMetricFamily("fartkoll_db_pool_wait_seconds", "Total time requests waited for a connection.",
                                  value=stats.get("requests_wait_ms", 0) / 1000)


def exposition(pool: Any | None) -> bytes:
    """The Prometheus text exposition: the process-wide metrics and ``pool``'s usage."""
    text = generate_latest(REGISTRY)
    if pool is not None:
        local = CollectorRegistry(auto_describe=False)
        local.register(PoolCollector(pool))
        text += generate_latest(local)
    return text
