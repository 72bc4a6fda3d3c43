"""One POST /api/reports is one trace: the request, the enqueue, the report job's run,
the mail's enqueue and the mail job's run, as the OpenTelemetry SDK's in-memory exporter
records them. The web app and a worker (the real Launcher, in this process, so that both
export to the same exporter) run against a real Redis, SQLite file and SMTP server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import sidequest.tracing
from sidequest.config import build_settings
from sidequest.runtime.launcher import Launcher
from tests.integration.web.conftest import MakeApp
from tests.support.polling import wait_for
from tests.support.smtp_server import SmtpSink

SALES = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-05"}


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    sidequest.tracing.uninstall()
    provider.shutdown()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [found] = [span for span in spans if span.name == name]
    return found


def test_a_report_request_is_one_trace_from_the_request_to_the_mail_job(
    make_app: MakeApp,
    redis_url: str,
    smtp: SmtpSink,
    exporter: tuple[TracerProvider, InMemorySpanExporter],
    tmp_path: Path,
) -> None:
    provider, memory = exporter
    app = make_app(redis_url, SMTP_URL=smtp.url, OTEL_TRACER_PROVIDER=provider)
    middleware = sidequest.tracing.install(provider)
    settings = build_settings(
        environ={},
        overrides={
            "redis_url": redis_url,
            "queues": ["reports", "mailers"],
            "concurrency": 2,
        },
    )
    launcher = Launcher(settings, [middleware])
    launcher.check_redis()
    launcher.start()
    try:
        answer = app.test_client().post(
            "/api/reports", json=SALES, headers={"traceparent": TRACEPARENT}
        )
        assert answer.status_code == 202
        wait_for(lambda: smtp.messages, timeout=30, message="the completion mail")
        wait_for(
            lambda: any(span.name == "process mailers" for span in memory.get_finished_spans()),
            timeout=10,
            message="the mail job's span",
        )
    finally:
        launcher.request_stop()
        launcher.stop()

    spans = memory.get_finished_spans()
    request = by_name(spans, "POST /api/reports")
    send_report = by_name(spans, "send reports")
    run_report = by_name(spans, "process reports")
    send_mail = by_name(spans, "send mailers")
    run_mail = by_name(spans, "process mailers")
    chain = [request, send_report, run_report, send_mail, run_mail]
    # One trace, the caller's: the request continues the traceparent header it was sent.
    assert {span.context.trace_id for span in chain} == {int(TRACE_ID, 16)}
    assert request.parent is not None and request.parent.span_id == int(PARENT_ID, 16)
    for parent, child in itertools.pairwise(chain):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, (
            f"{child.name} is not a child of {parent.name}"
        )
    assert [span.kind for span in chain] == [
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    ]
    jid = answer.get_json()["jid"]
    sent = dict(send_report.attributes or {})
    assert sent["messaging.system"] == "sidequest"
    assert sent["messaging.operation.type"] == "send"
    assert sent["messaging.destination.name"] == "reports"
    assert sent["messaging.message.id"] == jid
    attributes = dict(run_report.attributes or {})
    assert attributes["messaging.system"] == "sidequest"
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.destination.name"] == "reports"
    assert attributes["messaging.message.id"] == jid
    assert attributes["sidequest.job.class"] == "ProcessReportJob"
    assert attributes["sidequest.outcome"] == "succeeded"
    assert run_report.status.status_code is StatusCode.UNSET
    assert dict(request.attributes or {})["http.response.status_code"] == 202


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
