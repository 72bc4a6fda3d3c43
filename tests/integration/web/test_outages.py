"""Redis or the database down: requests kept in the outbox, clear 503s, nothing lost,
and a way to catch up."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from shop.db import SessionFactory, read_session
from shop.models import User
from shop.reports import load_report
from sidequest.outbox import outbox_table
from tests.integration.web.conftest import MakeApp
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from web.services import services

SALES = {"kind": "sales_by_product", "from": "2024-01-01", "to": "2024-01-31"}


def outbox_rows(session_factory: SessionFactory) -> int:
    with read_session(session_factory) as session:
        return session.scalar(select(func.count()).select_from(outbox_table)) or 0


def users(session_factory: SessionFactory) -> int:
    with read_session(session_factory) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_with_redis_stopped_a_report_is_accepted_and_its_job_goes_out_when_redis_returns(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    with app.app_context():
        session_factory = services().session_factory
    assert client.get("/readyz").status_code == 200
    own_redis_server.stop()

    response = client.post("/api/reports", json=SALES)

    # The job waits in the outbox, committed with the report.
    assert response.status_code == 202
    body = response.get_json()
    stored = load_report(session_factory, body["id"])
    assert stored.job_id == body["jid"]
    assert not stored.enqueue_failed
    assert outbox_rows(session_factory) == 1
    # Enqueuing again pushes to Redis at once, so it still says Redis is down.
    again = client.post(body["links"]["enqueue"])
    assert again.status_code == 503
    assert again.headers["Retry-After"] == "5"
    assert "the job queue (Redis) is unavailable" in again.get_json()["error"]
    marked = load_report(session_factory, body["id"])
    assert marked.enqueue_failed
    assert "could not enqueue ProcessReportJob" in (marked.enqueue_error or "")

    own_redis_server.start()

    redis_client = own_redis_server.client()
    wait_for(lambda: redis_client.llen("queue:reports") == 1, message="the relayed job")
    [raw] = redis_client.lrange("queue:reports", 0, -1)
    assert json.loads(raw)["jid"] == body["jid"]
    assert outbox_rows(session_factory) == 0


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


def test_with_redis_stopped_a_signup_is_kept_and_its_jobs_go_out_when_redis_returns(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    with app.app_context():
        session_factory = services().session_factory
    own_redis_server.stop()
    signup = {"email": "ann@example.org", "name": "Ann"}

    accepted = client.post("/api/signups", json=signup)

    assert accepted.status_code == 202
    assert users(session_factory) == 1
    jids = set(accepted.get_json()["jobs"].values())
    own_redis_server.start()
    redis_client = own_redis_server.client()
    wait_for(lambda: redis_client.llen("queue:default") == 3, message="the relayed jobs")
    queued = {json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)}
    assert queued == jids


def test_the_enqueue_pending_command_enqueues_reports_left_behind(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    app = make_app(own_redis_server.url)
    client = app.test_client()
    own_redis_server.stop()
    left_behind = {client.post("/api/reports", json=SALES).get_json()["id"] for _ in "ab"}
    for report_id in left_behind:  # an enqueue refused by Redis marks the report
        assert client.post(f"/api/reports/{report_id}/enqueue").status_code == 503
    runner = app.test_cli_runner()
    failed = runner.invoke(args=["enqueue-pending"])
    assert failed.exit_code == 1
    assert "Redis refused the job of report" in failed.output

    own_redis_server.start()
    result = runner.invoke(args=["enqueue-pending"])

    assert result.exit_code == 0, result.output
    assert "enqueued 2 report job(s)" in result.output
    queued = own_redis_server.client().lrange("queue:reports", 0, -1)
    # The enqueued jobs, and the ones the outbox relayed when Redis came back.
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
