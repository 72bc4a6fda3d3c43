"""Tracing across processes over OTLP/HTTP: the web app (in this process) and a real
`python -m worker` process with SIDEQUEST_OTEL=1 export to a receiver on loopback, and
the spans of one report request form one trace."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import sidequest.tracing
from shop import jobs as shop_jobs
from shop.db import migrate, session_factory_for
from shop.seed import seed_orders
from sidequest.adapter import set_adapter
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.polling import wait_for
from tests.support.smtp_server import SmtpSink
from web import create_app
from web.services import services

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver().start()
    yield running
    running.stop()


def named(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [found] = [span for span in spans if span.name == name]
    return found


def test_a_report_request_is_one_trace_across_the_web_and_a_worker_process(
    tmp_path: Path, redis_url: str, receiver: OtlpReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(database_url)
    factory = session_factory_for(database_url)
    seed_orders(factory, 200, days=10, seed=3, until=date(2024, 1, 10))
    factory.kw["bind"].dispose()
    smtp = SmtpSink().start()
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "SMTP_URL": smtp.url,
        "REPORTS_DIR": str(tmp_path / "reports"),
        "APP_BASE_URL": "http://shop.test:8000",
        "SECRET_KEY": "otlp",
    }
    provider = TracerProvider(resource=Resource.create({"service.name": "shop-web"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
    app = create_app({"TESTING": True, **env, "OTEL_TRACER_PROVIDER": provider})
    log = (tmp_path / "worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker"],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(ROOT),
            "SIDEQUEST_CONCURRENCY": "2",
            "SIDEQUEST_OTEL": "1",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        answer = app.test_client().post(
            "/api/reports",
            json={"kind": "sales_by_product", "from": "2024-01-01", "to": "2024-01-10"},
        )
        assert answer.status_code == 202

        def whole_trace() -> bool:
            names = {span.name for span in receiver.spans}
            return {"process reports", "process mailers"} <= names

        wait_for(whole_trace, timeout=60, interval=0.1, message="the worker's spans")
    finally:
        worker.terminate()
        worker.wait(60)
        log.close()
        with app.app_context():
            services().close()
        shop_jobs.reset()
        set_adapter(None)
        sidequest.tracing.uninstall()
        provider.shutdown()
        smtp.stop()

    spans = receiver.spans
    chain = [
        named(spans, name)
        for name in (
            "POST /api/reports",
            "send reports",
            "process reports",
            "send mailers",
            "process mailers",
        )
    ]
    assert len({span.trace_id for span in chain}) == 1
    for parent, child in itertools.pairwise(chain):
        assert child.parent_span_id == parent.span_id, f"{child.name} under {parent.name}"
    assert [span.service for span in chain] == [
        "shop-web",
        "shop-web",
        "shop-worker",
        "shop-worker",
        "shop-worker",
    ]
    assert chain[2].attributes["messaging.message.id"] == answer.get_json()["jid"]
