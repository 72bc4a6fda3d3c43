"""The web tier's request spans, when tracing is on (`SIDEQUEST_OTEL=1`, `sidequest[otel]`).

Each request gets a SERVER span named `<METHOD> <route>` (the URL rule, not the path,
so ids do not multiply span names), a child of the caller's `traceparent` header when
it sends one. It is current while the view runs, so the jobs the view enqueues (their
`send` spans, then the workers' `process` spans) belong to the request's trace.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def install_request_spans(app: Flask, tracer: trace.Tracer) -> None:
    """Open a span per request of `app` with `tracer`."""

    @app.before_request
    def start_span() -> None:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # Lower-case names: the propagator looks up "traceparent" exactly.
        parent = _PROPAGATOR.extract({k.lower(): v for k, v in request.headers.items()})
        span = tracer.start_span(
            f"{request.method} {rule}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "http.route": rule,
                "url.path": request.path,
            },
        )
        g.sidequest_span = span
        g.sidequest_span_token = otel_context.attach(trace.set_span_in_context(span))

    @app.after_request
    def record_status(response: Response) -> Response:
        span = g.get("sidequest_span")
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
        return response

    @app.teardown_request
    def end_span(error: BaseException | None) -> None:
        span: Any = g.pop("sidequest_span", None)
        token = g.pop("sidequest_span_token", None)
        if token is not None:
            otel_context.detach(token)
        if span is not None:
            if error is not None:
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
