"""The producer side: a `send <queue>` span around each push, its context in the payload."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from sidequest.adapter import DebounceSpec, EnqueueAdapter, PushResult, UniqueSpec
from sidequest.payload import JobDict
from sidequest.tracing import attributes as attr
from sidequest.tracing.context import inject


class TracingAdapter:
    """Wraps the adapter of one enqueue (`sidequest.adapter.set_enqueue_wrapper`)."""

    def __init__(self, inner: EnqueueAdapter, tracer: trace.Tracer):
        self.inner = inner
        self.tracer = tracer

    def push(
        self,
        payload: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        queue = str(payload.get("queue", ""))
        with self.tracer.start_as_current_span(
            f"send {queue}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                **_send_attributes(queue),
                attr.MESSAGE_ID: str(payload.get("jid", "")),
                attr.JOB_CLASS: str(payload.get("class", "")),
            },
        ) as span:
            inject(payload)
            if debounce is None:
                result = self.inner.push(payload, at=at, unique=unique)
            else:
                result = self.inner.push(payload, debounce=debounce)
            if not result.enqueued:
                span.set_attribute(attr.OUTCOME, "duplicate")
            return result

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        queue = str(payloads[0].get("queue", "")) if payloads else ""
        with self.tracer.start_as_current_span(
            f"send {queue}",
            kind=trace.SpanKind.PRODUCER,
            attributes={**_send_attributes(queue), attr.BATCH_COUNT: len(payloads)},
        ):
            for payload in payloads:
                inject(payload)
            self.inner.push_bulk(payloads, at=at)


def _send_attributes(queue: str) -> dict[str, Any]:
    return {
        attr.SYSTEM: attr.SYSTEM_NAME,
        attr.OPERATION_TYPE: "send",
        attr.OPERATION_NAME: "send",
        attr.DESTINATION: queue,
    }
