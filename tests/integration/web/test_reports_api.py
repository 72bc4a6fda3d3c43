"""The reports API against a real Redis and a real SQLite database."""

from __future__ import annotations

import json

import redis
from flask.testing import FlaskClient

from shop.db import SessionFactory
from shop.reports import load_report, mark_done, mark_processing
from tests.integration.web.conftest import queued_jobs
from tests.support.polling import wait_for

SALES = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}


def test_a_report_request_is_accepted_with_its_id_status_job_and_links(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    response = client.post("/api/reports", json=SALES)

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    report_id = body["id"]
    assert response.headers["Location"] == f"/api/reports/{report_id}"
    assert body["links"] == {
        "self": f"/api/reports/{report_id}",
        "page": f"/reports/{report_id}",
        "download": f"/reports/{report_id}/download",
        "summary": f"/reports/{report_id}/files/summary.html",
        "enqueue": f"/api/reports/{report_id}/enqueue",
    }
    # Through the outbox: the app's relay thread pushes it right after the commit.
    wait_for(lambda: redis_client.llen("queue:reports") == 1, message="the relayed job")
    [raw] = redis_client.lrange("queue:reports", 0, -1)
    job = json.loads(raw)
    assert (job["class"], job["args"], job["jid"]) == ("ProcessReportJob", [report_id], body["jid"])
    assert load_report(session_factory, report_id).job_id == body["jid"]


def test_a_json_content_type_with_a_charset_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/api/reports",
        data=json.dumps(SALES),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202


def test_a_report_status_can_be_read_back(
    client: FlaskClient, session_factory: SessionFactory
) -> None:
    report_id = client.post("/api/reports", json=SALES).get_json()["id"]
    mark_processing(session_factory, report_id)

    response = client.get(f"/api/reports/{report_id}")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["status"], body["attempts"]) == (report_id, "processing", 1)
    assert body["parameters"] == {"from": "2024-01-01", "to": "2024-01-31"}


def test_an_unknown_or_malformed_report_id_is_a_404(client: FlaskClient) -> None:
    for report_id in ("0" * 32, "not-an-id", "A" * 32):
        response = client.get(f"/api/reports/{report_id}")
        assert response.status_code == 404
        assert "does not exist" in response.get_json()["error"]


def test_polling_several_reports_lists_found_and_missing_ones(client: FlaskClient) -> None:
    first = client.post("/api/reports", json=SALES).get_json()["id"]
    second = client.post("/api/reports", json=SALES).get_json()["id"]
    gone = "f" * 32

    body = client.get(f"/api/reports?ids={first},{second},{gone}").get_json()

    assert [report["id"] for report in body["reports"]] == [first, second]
    assert body["missing"] == [gone]
    recent = client.get("/api/reports?limit=1").get_json()["reports"]
    assert len(recent) == 1


def test_bad_polling_parameters_are_400s(client: FlaskClient) -> None:
    too_many = ",".join(f"{n:032x}" for n in range(51))
    for query, phrase in [
        ("ids=nope", "not report ids"),
        ("ids=", "ids must list 1 to 50"),
        (f"ids={too_many}", "ids must list 1 to 50"),
        ("limit=0", "limit must be a number from 1 to 100"),
        ("limit=abc", "limit must be a number from 1 to 100"),
        ("limit=101", "limit must be a number from 1 to 100"),
    ]:
        response = client.get(f"/api/reports?{query}")
        assert response.status_code == 400, query
        assert phrase in response.get_json()["error"]


def test_a_pending_report_can_be_enqueued_again(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    report_id = client.post("/api/reports", json=SALES).get_json()["id"]

    response = client.post(f"/api/reports/{report_id}/enqueue")

    assert response.status_code == 202
    wait_for(lambda: redis_client.llen("queue:reports") == 2, message="both jobs")
    assert load_report(session_factory, report_id).job_id == response.get_json()["jid"]


def test_a_done_or_building_report_is_not_enqueued_again(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    report_id = client.post("/api/reports", json=SALES).get_json()["id"]
    wait_for(lambda: queued_jobs(redis_client) == 1, message="the relayed job")
    mark_processing(session_factory, report_id)
    building = client.post(f"/api/reports/{report_id}/enqueue")
    mark_done(session_factory, report_id, report_id)
    done = client.post(f"/api/reports/{report_id}/enqueue")

    assert building.status_code == 409
    assert "being built" in building.get_json()["error"]
    assert done.status_code == 409
    assert "is done already" in done.get_json()["error"]
    assert queued_jobs(redis_client) == 1
    assert client.post(f"/api/reports/{'0' * 32}/enqueue").status_code == 404


def test_the_api_answers_json_for_unknown_paths_and_wrong_methods(client: FlaskClient) -> None:
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.is_json
    wrong = client.delete("/api/reports")
    assert wrong.status_code == 405
    assert wrong.is_json
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_a_report_shows_the_progress_its_job_reported(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    created = client.post("/api/reports", json=SALES).get_json()
    assert client.get(f"/api/reports/{created['id']}").get_json()["progress"] is None
    redis_client.hset(
        f"sidequest:progress:{created['jid']}",
        mapping={"done": 10, "total": 31, "message": "2024-01-10 summed", "updated_at": 1.5},
    )

    shown = client.get(f"/api/reports/{created['id']}").get_json()
    listed = client.get(f"/api/reports?ids={created['id']}").get_json()["reports"]

    assert shown["progress"] == {
        "done": 10.0,
        "total": 31.0,
        "percent": 32,
        "message": "2024-01-10 summed",
        "updated_at": 1.5,
        "finished_at": None,
        "outcome": None,
    }
    assert listed[0]["progress"] == shown["progress"]
