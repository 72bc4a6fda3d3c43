"""Turning tracing on: the enqueue wrapper, the worker middleware, an SDK from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace

from sidequest.adapter import EnqueueAdapter, set_enqueue_wrapper
from sidequest.flags import flag
from sidequest.tracing import attributes as attr
from sidequest.tracing.enqueue import TracingAdapter
from sidequest.tracing.process import TracingMiddleware

#: the variable that turns `sdk_from_environment` on
ENABLE_VARIABLE = "SIDEQUEST_OTEL"


def install(tracer_provider: trace.TracerProvider | None = None) -> TracingMiddleware:
    """Trace every enqueue of this process; returns the middleware for a worker.

    Args:
        tracer_provider: Where spans go; the global provider (set by the SDK's setup, or
            `sdk_from_environment`) when omitted.
    """
    provider = tracer_provider or trace.get_tracer_provider()
    tracer = provider.get_tracer(attr.TRACER_NAME)

    def wrap(adapter: EnqueueAdapter) -> EnqueueAdapter:
        return TracingAdapter(adapter, tracer)

    set_enqueue_wrapper(wrap)
    return TracingMiddleware(tracer)


def uninstall() -> None:
    """Stop tracing enqueues (tests)."""
    set_enqueue_wrapper(None)


def sdk_from_environment(
    service_name: str, environ: Mapping[str, str] | None = None
) -> TracingMiddleware | None:
    """With SIDEQUEST_OTEL on: `sdk_provider`, installed; its middleware. Else None."""
    provider = sdk_provider(service_name, environ)
    return None if provider is None else install(provider)


def sdk_provider(
    service_name: str, environ: Mapping[str, str] | None = None
) -> trace.TracerProvider | None:
    """With SIDEQUEST_OTEL on: an SDK provider exporting OTLP/HTTP, made the global one.

    The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) and its other
    standard variables; OTEL_SERVICE_NAME overrides `service_name`. None when off.
    """
    values = os.environ if environ is None else environ
    if not flag(values, ENABLE_VARIABLE):
        return None
    # The SDK and the exporter are needed only here: applications with their own setup
    # call install() and never import them through sidequest.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    name = values.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
