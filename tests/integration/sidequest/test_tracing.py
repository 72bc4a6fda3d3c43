"""Job tracing in a real worker (the Launcher, in this process, so that its spans reach
the SDK's in-memory exporter): every attempt of a retried job is a `process` span under
the one `send` span, and perform's callbacks run inside it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import redis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import sidequest.tracing
from sidequest import Job, around_perform, retry_on
from sidequest.adapter import using
from sidequest.client import RedisAdapter
from sidequest.config import build_settings
from sidequest.runtime.launcher import Launcher
from tests.support.polling import wait_for

ATTEMPTS: list[int] = []
CALLBACK_SPANS: list[int] = []
_lock = threading.Lock()


@retry_on(ValueError, wait=0, attempts=3)
class FlakyTracedJob(Job):
    queue = "traced"

    @around_perform
    def note_span(self, block: Callable[[], object]) -> None:
        CALLBACK_SPANS.append(trace.get_current_span().get_span_context().span_id)
        block()

    def perform(self) -> None:
        with _lock:
            ATTEMPTS.append(1)
            first = len(ATTEMPTS) == 1
        if first:
            raise ValueError("first attempt fails")


@pytest.fixture
def memory() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ATTEMPTS.clear()
    CALLBACK_SPANS.clear()
    yield provider, exporter
    sidequest.tracing.uninstall()
    provider.shutdown()


def test_each_attempt_of_a_retried_job_is_a_process_span_under_its_send_span(
    redis_url: str, memory: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = memory
    middleware = sidequest.tracing.install(provider)
    settings = build_settings(
        environ={},
        overrides={"redis_url": redis_url, "queues": ["traced"], "concurrency": 1},
    )
    launcher = Launcher(settings, [middleware])
    launcher.check_redis()
    launcher.start()
    client = redis.Redis.from_url(redis_url)
    try:
        with using(RedisAdapter(client)):
            job = FlakyTracedJob.perform_later()

        def two_attempts() -> bool:
            spans = exporter.get_finished_spans()
            return sum(span.name == "process traced" for span in spans) == 2

        wait_for(two_attempts, timeout=30, message="the retried attempt")
    finally:
        launcher.request_stop()
        launcher.stop()
        client.close()

    spans = exporter.get_finished_spans()
    [send] = [span for span in spans if span.name == "send traced"]
    attempts = sorted(
        (span for span in spans if span.name == "process traced"),
        key=lambda span: span.start_time or 0,
    )
    assert send.kind is SpanKind.PRODUCER
    assert dict(send.attributes or {})["messaging.message.id"] == job.jid
    for attempt in attempts:
        assert attempt.kind is SpanKind.CONSUMER
        assert attempt.context.trace_id == send.context.trace_id
        assert attempt.parent is not None and attempt.parent.span_id == send.context.span_id
    first, second = attempts
    assert first.status.status_code is StatusCode.ERROR
    assert dict(first.attributes or {})["sidequest.outcome"] == "retried"
    assert [event.name for event in first.events] == ["exception"]
    assert second.status.status_code is StatusCode.UNSET
    assert dict(second.attributes or {})["sidequest.outcome"] == "succeeded"
    assert dict(second.attributes or {})["sidequest.retry_count"] == 0
    # The around_perform callback ran inside each attempt's span.
    assert [first.context.span_id, second.context.span_id] == CALLBACK_SPANS
