"""web/request_metrics.py's middleware around plain WSGI apps: when and what it records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from werkzeug.routing import Map, Rule
from werkzeug.test import create_environ

from web.request_metrics import RequestMetrics, RequestMetricsMiddleware

URL_MAP = Map([Rule("/items/<int:item>", endpoint="items.show"), Rule("/metrics", endpoint="m")])
StartResponse = Callable[..., Any]


def recorded(registry: CollectorRegistry, **labels: str) -> float | None:
    return registry.get_sample_value("sidequest_web_requests_total", labels)


def served(app: Callable[..., Iterable[bytes]], registry: CollectorRegistry) -> Any:
    return RequestMetricsMiddleware(app, URL_MAP, RequestMetrics(registry), skip_endpoints=["m"])


def noop_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return lambda data: None


def test_a_response_is_counted_before_the_server_sends_it() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("201 Created", [])
        return [b"made"]

    registry = CollectorRegistry()
    served(app, registry)(create_environ("/items/7", method="POST"), noop_start_response)
    assert recorded(registry, method="POST", endpoint="items.show", status="201") == 1
    count = registry.get_sample_value(
        "sidequest_web_request_duration_seconds_count", {"method": "POST", "endpoint": "items.show"}
    )
    assert count == 1


def test_an_app_that_starts_its_response_lazily_is_counted_when_the_body_closes() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"streamed"

    registry = CollectorRegistry()
    body = served(app, registry)(create_environ("/items/1"), noop_start_response)
    assert recorded(registry, method="GET", endpoint="items.show", status="200") is None
    assert list(body) == [b"streamed"]
    body.close()
    assert recorded(registry, method="GET", endpoint="items.show", status="200") == 1


def test_an_app_that_raises_is_counted_as_a_500_and_the_error_goes_on() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        raise LookupError("broken")

    registry = CollectorRegistry()
    with pytest.raises(LookupError):
        served(app, registry)(create_environ("/nowhere"), noop_start_response)
    assert recorded(registry, method="GET", endpoint="unmatched", status="500") == 1


def test_skipped_endpoints_and_odd_methods() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    registry = CollectorRegistry()
    middleware = served(app, registry)
    middleware(create_environ("/metrics"), noop_start_response)
    middleware(create_environ("/items/2", method="PROPFIND"), noop_start_response)
    middleware(create_environ("/items/", method="get"), noop_start_response)
    assert recorded(registry, method="GET", endpoint="m", status="200") is None
    assert recorded(registry, method="other", endpoint="items.show", status="200") == 1
    assert recorded(registry, method="GET", endpoint="unmatched", status="200") == 1
