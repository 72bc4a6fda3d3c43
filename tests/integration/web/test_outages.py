"""Redis or the database down: clear 503s, nothing lost, and a way to catch up."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from shop.db import SessionFactory, read_session
from shop.models import User
from shop.reports import load_report
from tests.integration.web.conftest import MakeApp
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from web.services import services

SALES = {"kind": "sales_by_product", "from": "2024-01-01", "to": "2024-01-31"}


def users(session_factory: SessionFactory) -> int:
    with read_session(session_factory) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_with_redis_stopped_a_report_is_kept_marked_and_can_be_enqueued_later(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    with app.app_context():
        session_factory = services().session_factory
    assert client.get("/readyz").status_code == 200
    own_redis_server.stop()

    response = client.post("/api/reports", json=SALES)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert "the job queue (Redis) is unavailable" in body["error"]
    report_id = body["report"]["id"]
    stored = load_report(session_factory, report_id)
    assert stored.enqueue_failed
    assert stored.job_id is None
    assert stored.enqueue_error is not None
    assert "could not enqueue ProcessReportJob" in stored.enqueue_error
    assert client.post(f"/api/reports/{report_id}/enqueue").status_code == 503

    own_redis_server.start()
    again = client.post(body["report"]["links"]["enqueue"])

    assert again.status_code == 202
    requeued = load_report(session_factory, report_id)
    assert not requeued.enqueue_failed
    [raw] = own_redis_server.client().lrange("queue:reports", 0, -1)
    assert json.loads(raw)["jid"] == requeued.job_id == again.get_json()["jid"]


def test_with_redis_stopped_readyz_says_so_while_healthz_stays_up(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    client = make_app(own_redis_server.url).test_client()
    own_redis_server.stop()

    ready = client.get("/readyz")

    assert ready.status_code == 503
    checks = ready.get_json()["checks"]
    assert checks["redis"]["ok"] is False
    assert "ConnectionError" in checks["redis"]["error"]
    assert checks["database"]["ok"] is True
    assert client.get("/healthz").status_code == 200


def test_with_redis_stopped_a_signup_is_undone_so_it_can_be_sent_again(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    with app.app_context():
        session_factory = services().session_factory
    own_redis_server.stop()
    signup = {"email": "ann@example.org", "name": "Ann"}

    refused = client.post("/api/signups", json=signup)

    assert refused.status_code == 503
    assert "the signup was not kept" in refused.get_json()["error"]
    assert users(session_factory) == 0
    own_redis_server.start()
    assert client.post("/api/signups", json=signup).status_code == 202
    assert users(session_factory) == 1


def test_the_enqueue_pending_command_enqueues_reports_left_behind(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    own_redis_server.stop()
    left_behind = {client.post("/api/reports", json=SALES).get_json()["report"]["id"] for _ in "ab"}
    runner = app.test_cli_runner()
    failed = runner.invoke(args=["enqueue-pending"])
    assert failed.exit_code == 1
    assert "Redis refused the job of report" in failed.output

    own_redis_server.start()
    result = runner.invoke(args=["enqueue-pending"])

    assert result.exit_code == 0, result.output
    assert "enqueued 2 report job(s)" in result.output
    queued = own_redis_server.client().lrange("queue:reports", 0, -1)
    assert {json.loads(raw)["args"][0] for raw in queued} == left_behind
    assert "enqueued 0 report job(s)" in runner.invoke(args=["enqueue-pending"]).output


def test_with_the_database_down_requests_get_503_and_readyz_names_it(
    make_app: MakeApp, redis_url: str, tmp_path: Path
) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/shop"
    client = make_app(redis_url, DATABASE_URL=unreachable).test_client()

    ready = client.get("/readyz")
    report = client.post("/api/reports", json=SALES)
    page = client.get("/reports", headers={"Accept": "text/html"})

    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"]["ok"] is False
    assert ready.get_json()["checks"]["redis"]["ok"] is True
    assert report.status_code == 503
    assert report.get_json()["error"] == "the database is unavailable; try again shortly"
    assert page.status_code == 503
    assert b"the database is unavailable" in page.data
