"""The W3C trace context in a job payload: `traceparent` and `tracestate` fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: the payload fields the trace context travels in
TRACE_FIELDS = ("traceparent", "tracestate")

# W3C trace context alone, whatever the process's global propagator: the payload is
# read by workers whose configuration may differ from the enqueuer's.
_PROPAGATOR = TraceContextTextMapPropagator()


def inject(job: dict[str, Any], context: Context | None = None) -> None:
    """Write the current (or given) span's context into the payload."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    for field in TRACE_FIELDS:
        if field in carrier:
            job[field] = carrier[field]


def extract(job: Mapping[str, Any]) -> Context:
    """The context a payload carries (an empty one when it carries none or garbage)."""
    carrier = {field: job[field] for field in TRACE_FIELDS if isinstance(job.get(field), str)}
    return _PROPAGATOR.extract(carrier)
