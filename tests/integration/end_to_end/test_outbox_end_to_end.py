"""A report requested while Redis is stopped: accepted (202), its job kept in the outbox
with the report, relayed by a real `python -m worker` process once Redis is back, then
built and mailed. The web tier's own relay is off here, so only the worker can relay."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from shop import jobs as shop_jobs
from shop.db import migrate, session_factory_for
from shop.seed import seed_orders
from sidequest.adapter import set_adapter
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.smtp_server import SmtpSink
from web import create_app
from web.services import services

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def test_a_report_requested_with_redis_stopped_is_done_once_redis_is_back(
    tmp_path: Path, own_redis_server: RedisServer, smtp: SmtpSink
) -> None:
    database_url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(database_url)
    factory = session_factory_for(database_url)
    seed_orders(factory, 500, days=30, seed=3, until=date(2024, 1, 31))
    factory.kw["bind"].dispose()
    env = {
        "REDIS_URL": own_redis_server.url,
        "DATABASE_URL": database_url,
        "SMTP_URL": smtp.url,
        "REPORTS_DIR": str(tmp_path / "reports"),
        "APP_BASE_URL": "http://shop.test:8000",
        "ADMIN_EMAIL": "admin@shop.test",
        "SECRET_KEY": "outbox",
    }
    app = create_app({"TESTING": True, **env, "OUTBOX_RELAY": "0"})
    client = app.test_client()
    log = (tmp_path / "worker.log").open("ab")
    worker: subprocess.Popen[bytes] | None = None
    try:
        own_redis_server.stop()
        answer = client.post(
            "/api/reports", json={"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}
        )
        assert answer.status_code == 202
        report_id = answer.get_json()["id"]
        assert client.get(f"/api/reports/{report_id}").get_json()["status"] == "pending"

        worker = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT), "SIDEQUEST_CONCURRENCY": "2"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        own_redis_server.start()

        def finished() -> str | None:
            status = str(client.get(f"/api/reports/{report_id}").get_json()["status"])
            return status if status in ("done", "failed") else None

        assert wait_for(finished, timeout=60, interval=0.1, message="the report") == "done"
        wait_for(lambda: smtp.messages, timeout=30, message="the completion mail")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(60)
        log.close()
        with app.app_context():
            services().close()
        shop_jobs.reset()
        set_adapter(None)
