"""`/metrics` of the web tier, for Prometheus (job `web` in infra/prometheus/prometheus.yml).

It serves two things:

* the web tier's request metrics (web/request_metrics.py). Under gunicorn every worker
  process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set (Compose and
  `make dev` set it, and empty it before gunicorn starts) each scrape merges the files
  of all workers, so whichever worker answers the scrape reports the totals.
  gunicorn.conf.py's `child_exit` hook tidies up after workers that exit.
* the cluster-wide gauges (queue sizes and latencies, scheduled/retry/dead set sizes,
  live processes: `sidequest.metrics.ClusterCollector`), read from Redis at scrape time.
  They are exported here, once per web replica, rather than by every worker, so they
  are not multiplied by the number of worker processes (dashboards take max()).
* the outbox's gauges (rows waiting for the relay and the oldest one's age:
  `sidequest.metrics.outbox.OutboxCollector`), read from the database at scrape time.

prometheus_client itself reads PROMETHEUS_MULTIPROC_DIR from the environment when it is
imported, so this module reads the same variable to pick the matching exposition.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import redis
from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine

from sidequest.metrics import ClusterCollector, merged_registry
from sidequest.metrics.outbox import OutboxCollector
from web.request_metrics import RequestMetrics, RequestMetricsMiddleware

ENDPOINT = "metrics"
PATH = "/metrics"


def install_metrics(app: Flask, client: redis.Redis, engine: Engine | None = None) -> None:
    """Record `app`'s requests and serve PATH.

    Args:
        app: The web app; its `wsgi_app` gets wrapped.
        client: Redis the cluster gauges are read from (the app's own client).
        engine: The database whose outbox table the outbox gauges are read from.

    Raises:
        ConfigError: PROMETHEUS_MULTIPROC_DIR is set but names no directory.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged_registry()  # fails now, naming the variable, rather than at the first scrape
        metrics = RequestMetrics(registry=None)

        def registry() -> CollectorRegistry:
            # Built per scrape, as prometheus_client's multiprocess docs prescribe: the
            # collector reads the files of every worker that exists at that moment.
            scrape = merged_registry()
            scrape.register(ClusterCollector(client))
            if engine is not None:
                scrape.register(OutboxCollector(engine))
            return scrape

    else:
        own = CollectorRegistry()
        metrics = RequestMetrics(registry=own)
        own.register(ClusterCollector(client))
        if engine is not None:
            own.register(OutboxCollector(engine))

        def registry() -> CollectorRegistry:
            return own

    app.wsgi_app = RequestMetricsMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app.url_map, metrics, skip_endpoints=[ENDPOINT]
    )
    app.add_url_rule(PATH, endpoint=ENDPOINT, view_func=_exposition(registry), methods=["GET"])


def _exposition(registry: Callable[[], CollectorRegistry]) -> Callable[[], Response]:
    def serve_metrics() -> Response:
        return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)

    return serve_metrics
