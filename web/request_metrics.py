"""Request metrics of the web tier, recorded by a WSGI middleware around the Flask app.

    sidequest_web_requests_total{method, endpoint, status}          counter
    sidequest_web_request_duration_seconds{method, endpoint}        histogram

`endpoint` is the Flask endpoint name of the route that matched (`reports_api.create`,
`static`, `sidequest.queues` ...), never the raw path: paths carry ids, so labelling by
path would make a new series for every report. Requests that match no route (404,
405, redirects to the slash-terminated URL) share the endpoint `unmatched`, and
methods outside the HTTP standard ones are counted as `other`, so no client can grow
the number of series.

The middleware sits outside Flask, so it also counts what Flask's own error handling
turns into a 500. A request is recorded when the app hands its response to the server,
before the server sends it: the duration is the app's time, and a client that got an
answer finds it counted at its next scrape (tests rely on that).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect
from werkzeug.wsgi import ClosingIterator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

UNMATCHED = "unmatched"
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Pages and API calls take milliseconds; report downloads and a slow database take
# longer, up to gunicorn's 30 s worker timeout.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RequestMetrics:
    """The two metric families, registered in `registry` (or in none, for multiprocess mode).

    In multiprocess mode the values live in PROMETHEUS_MULTIPROC_DIR's files and the
    exposition reads them from there, so the families need not be registered anywhere;
    leaving them unregistered also lets tests build several apps in one process.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.requests = Counter(
            "sidequest_web_requests",
            "HTTP requests answered by the web tier.",
            ("method", "endpoint", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "sidequest_web_request_duration_seconds",
            "Time from receiving a request to closing its response.",
            ("method", "endpoint"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    def record(self, method: str, endpoint: str, status: str, seconds: float) -> None:
        self.requests.labels(method, endpoint, status).inc()
        self.duration.labels(method, endpoint).observe(seconds)


def endpoint_of(url_map: Map, environ: WSGIEnvironment) -> str:
    """The endpoint name the request's path and method route to, or UNMATCHED."""
    try:
        endpoint, _arguments = url_map.bind_to_environ(environ).match()
    except (HTTPException, RequestRedirect):
        return UNMATCHED
    return str(endpoint)


def method_of(environ: WSGIEnvironment) -> str:
    method = str(environ.get("REQUEST_METHOD", "")).upper()
    return method if method in METHODS else OTHER_METHOD


class RequestMetricsMiddleware:
    """Wraps a WSGI app (a Flask app's `wsgi_app`) and records every request it answers.

    Args:
        app: The WSGI application to wrap.
        url_map: The Flask app's URL map, used to name the endpoint.
        metrics: Where to record.
        skip_endpoints: Endpoints not recorded (the metrics endpoint itself, so that
            scrapes do not show up as traffic).
    """

    def __init__(
        self,
        app: WSGIApplication,
        url_map: Map,
        metrics: RequestMetrics,
        skip_endpoints: Iterable[str] = (),
    ):
        self.app = app
        self.url_map = url_map
        self.metrics = metrics
        self.skip_endpoints = frozenset(skip_endpoints)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = []

        def recording_start_response(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            # Called again with exc_info when an error replaces the response: keep the last.
            status.append(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        def record() -> None:
            endpoint = endpoint_of(self.url_map, environ)
            if endpoint in self.skip_endpoints:
                return
            self.metrics.record(
                method_of(environ),
                endpoint,
                status[-1] if status else "500",
                time.perf_counter() - started,
            )

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            # The server answers 500 for an app that raised before returning a body.
            status.append("500")
            record()
            raise
        if status:
            record()
            return body
        # An app that calls start_response only when its body is iterated (WSGI allows
        # it; Flask never does) is recorded once the server closes the body.
        return ClosingIterator(body, record)
