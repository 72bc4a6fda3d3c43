"""The consumer side: a `process <queue>` span around each execution, in the job's thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace

from sidequest.middleware import DEAD, JobContext, Middleware
from sidequest.tracing import attributes as attr
from sidequest.tracing.context import extract


@dataclass
class _Open:
    span: trace.Span
    token: object


class TracingMiddleware(Middleware):
    """Opens the span at `job_started` and ends it at `job_finished`; both hooks run on
    the job's thread, so the span is current while perform and its callbacks run."""

    def __init__(self, tracer: trace.Tracer | None = None):
        self.tracer = tracer or trace.get_tracer(attr.TRACER_NAME)
        self._local = threading.local()

    def job_started(self, job: JobContext) -> None:
        payload = job.payload or {}
        retry_count = payload.get("retry_count")
        span = self.tracer.start_span(
            f"process {job.queue}",
            context=extract(payload),
            kind=trace.SpanKind.CONSUMER,
            start_time=int(job.started_at * 1e9),
            attributes={
                attr.SYSTEM: attr.SYSTEM_NAME,
                attr.OPERATION_TYPE: "process",
                attr.OPERATION_NAME: "process",
                attr.DESTINATION: job.queue,
                attr.MESSAGE_ID: job.jid,
                attr.JOB_CLASS: job.job_class,
                **({attr.RETRY_COUNT: retry_count} if isinstance(retry_count, int) else {}),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        self._local.open = _Open(span, token)

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        opened: _Open | None = getattr(self._local, "open", None)
        if opened is None:
            return
        self._local.open = None
        otel_context.detach(opened.token)  # type: ignore[arg-type]
        span = opened.span
        span.set_attribute(attr.OUTCOME, outcome)
        if error is not None:
            span.record_exception(error)
            description = f"{type(error).__name__}: {error}"
            # A retry is an expected path, still an error of this attempt.
            span.set_status(trace.Status(trace.StatusCode.ERROR, description))
        elif outcome == DEAD:
            span.set_status(trace.Status(trace.StatusCode.ERROR, "dead"))
        span.end()
