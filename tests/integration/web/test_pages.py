"""The server-rendered pages: forms with CSRF tokens, report pages, downloads, signup."""

from __future__ import annotations

import json
import re

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from shop.db import SessionFactory
from shop.jobs import ProcessReportJob
from shop.reports import load_report, mark_processing
from sidequest import testing
from tests.integration.web.conftest import queued_jobs, stored_rows
from tests.support.polling import wait_for

REPORT_FORM = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-07", "email": ""}


def token_of(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1).decode()


def request_by_form(client: FlaskClient, token: str) -> str:
    response = client.post("/reports", data={**REPORT_FORM, "csrf_token": token})
    assert response.status_code == 303
    return str(response.headers["Location"]).rsplit("/", 1)[1]


@pytest.fixture
def token(client: FlaskClient) -> str:
    return token_of(client.get("/").data)


def test_every_page_renders_with_a_strict_content_security_policy(client: FlaskClient) -> None:
    for path in ("/", "/reports", "/signup"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        # Scripts only from files: no inline code for the policy to allow.
        scripts = re.findall(rb"<script[^>]*>(.*?)</script>", response.data, re.S)
        assert scripts == [b""], path
        assert b'src="/static/reports.js"' in response.data


def test_the_report_form_creates_a_report_and_redirects_to_it(
    client: FlaskClient, token: str, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    response = client.post("/reports", data={**REPORT_FORM, "csrf_token": token})

    assert response.status_code == 303
    report_id = response.headers["Location"].rsplit("/", 1)[1]
    assert load_report(session_factory, report_id).job_id is not None
    wait_for(lambda: queued_jobs(redis_client) == 1, message="the relayed job")
    page = client.get(f"/reports/{report_id}")
    assert b"Report requested" in page.data
    assert f'data-report-id="{report_id}" data-status="pending"'.encode() in page.data


def test_a_form_without_its_token_is_refused_and_stores_nothing(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    client.get("/")
    for token in (None, "forged"):
        data = dict(REPORT_FORM) if token is None else {**REPORT_FORM, "csrf_token": token}
        response = client.post("/reports", data=data)
        assert response.status_code == 400
        assert b"security token is missing or expired" in response.data
    assert queued_jobs(redis_client) == 0
    assert stored_rows(session_factory) == (0, 0)


def test_an_invalid_form_is_shown_again_with_its_problems(
    client: FlaskClient, token: str, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    bad = {**REPORT_FORM, "from": "2024-02-01", "to": "2024-01-01", "csrf_token": token}

    response = client.post("/reports", data=bad)

    assert response.status_code == 422
    assert b"To: 2024-01-01 is before from (2024-02-01)" in response.data
    assert b'value="2024-02-01"' in response.data
    assert queued_jobs(redis_client) == 0
    assert stored_rows(session_factory) == (0, 0)


def test_a_report_downloads_only_once_it_is_done(
    app: Flask, client: FlaskClient, token: str, session_factory: SessionFactory
) -> None:
    report_id = request_by_form(client, token)
    not_yet = client.get(f"/reports/{report_id}/download", headers={"Accept": "application/json"})
    assert not_yet.status_code == 409
    assert "is pending, not done" in not_yet.get_json()["error"]

    with testing.fake():
        ProcessReportJob.perform_now(report_id)

    with client.get(f"/reports/{report_id}/download") as download:
        assert download.status_code == 200
        assert download.mimetype == "text/csv"
        assert f"filename=report-{report_id}.csv" in download.headers["Content-Disposition"]
        csv_data = download.data
    assert csv_data.decode().splitlines()[0] == "day,orders,units,revenue"
    with client.get(f"/reports/{report_id}/files/summary.html") as summary:
        assert summary.status_code == 200
        assert summary.mimetype == "text/html"
        assert summary.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert b"<svg" in summary.data
    with client.get(f"/reports/{report_id}/files/report.csv") as inline_csv:
        assert inline_csv.data == csv_data
        assert inline_csv.headers["Content-Disposition"].startswith("inline")
    for name in ("secrets.txt", "..%2F..%2Fshop.db"):
        with client.get(f"/reports/{report_id}/files/{name}") as refused:
            assert refused.status_code == 404


def test_the_report_page_offers_to_enqueue_again_until_the_build_starts(
    client: FlaskClient, token: str, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    report_id = request_by_form(client, token)
    location = f"/reports/{report_id}"
    assert b"Enqueue again" in client.get(location).data

    again = client.post(f"/reports/{report_id}/enqueue", data={"csrf_token": token})
    mark_processing(session_factory, report_id)
    refused = client.post(f"/reports/{report_id}/enqueue", data={"csrf_token": token})

    assert again.status_code == refused.status_code == 303
    page = client.get(location).data
    assert b"Not enqueued: report" in page and b"is being built right now" in page
    assert b"Enqueue again</button>" not in page
    wait_for(lambda: redis_client.llen("queue:reports") == 2, message="both jobs")


def test_an_unknown_report_page_is_a_404_page(client: FlaskClient) -> None:
    response = client.get(f"/reports/{'0' * 32}", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"does not exist" in response.data


def test_the_signup_form_signs_up_and_escapes_what_people_type(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    token = token_of(client.get("/signup").data)
    name = '<script>alert("x")</script> Ann'

    response = client.post(
        "/signup", data={"email": "ann@example.org", "name": name, "csrf_token": token}
    )

    assert response.status_code == 200
    assert b"<script>alert" not in response.data
    assert b"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Ann" in response.data
    wait_for(lambda: redis_client.llen("queue:default") == 3, message="the relayed jobs")
    classes = sorted(
        json.loads(raw)["class"] for raw in redis_client.lrange("queue:default", 0, -1)
    )
    assert classes == [
        "NotifyAdminOfSignupJob",
        "SendWelcomeEmailJob",
        "SetupDefaultPreferencesJob",
    ]
    again = client.post(
        "/signup", data={"email": "ann@example.org", "name": "Ann", "csrf_token": token}
    )
    assert again.status_code == 409
    assert b"is already signed up" in again.data
    invalid = client.post("/signup", data={"email": "", "name": "", "csrf_token": token})
    assert invalid.status_code == 422
    assert b"E-mail is required" in invalid.data
