"""Every malformed request gets a 4xx JSON error naming the problem, and leaves nothing
behind: no job in Redis, no report or user in the database."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from shop.db import SessionFactory
from tests.integration.web.conftest import queued_jobs, stored_rows
from tests.support.polling import wait_for

GOOD_REPORT = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}
JSON = "application/json"

BAD_REPORTS: list[tuple[str, Any, str | None, int, str]] = [
    # (case, body, content type, status, phrase the error must contain)
    (
        "unknown kind",
        {**GOOD_REPORT, "kind": "sales_by_moon"},
        JSON,
        422,
        "unknown kind 'sales_by_moon'",
    ),
    ("kind not a string", {**GOOD_REPORT, "kind": 7}, JSON, 422, "unknown kind 7"),
    (
        "date in another format",
        {**GOOD_REPORT, "from": "01/02/2024"},
        JSON,
        422,
        "from: '01/02/2024' is not a date in the form YYYY-MM-DD",
    ),
    (
        "impossible date",
        {**GOOD_REPORT, "to": "2024-02-30"},
        JSON,
        422,
        "'2024-02-30' is not a real calendar date",
    ),
    (
        "date not a string",
        {**GOOD_REPORT, "from": 20240101},
        JSON,
        422,
        "from: must be a date string",
    ),
    (
        "to before from",
        {**GOOD_REPORT, "from": "2024-03-01", "to": "2024-02-01"},
        JSON,
        422,
        "to: 2024-02-01 is before from (2024-03-01)",
    ),
    (
        "range too long",
        {**GOOD_REPORT, "from": "2020-01-01", "to": "2024-01-01"},
        JSON,
        422,
        "the limit is 731",
    ),
    ("missing field", {"kind": "sales_by_day", "from": "2024-01-01"}, JSON, 422, "to: is required"),
    ("unknown field", {**GOOD_REPORT, "format": "pdf"}, JSON, 422, "format: is not a known field"),
    (
        "malformed e-mail",
        {**GOOD_REPORT, "email": "not-an-address"},
        JSON,
        422,
        "email: must look like name@example.com",
    ),
    ("a list, not an object", [GOOD_REPORT], JSON, 422, 'expected an object with "kind"'),
    ("null", "null", JSON, 422, 'expected an object with "kind"'),
    ("not JSON", "{kind: sales_by_day}", JSON, 400, "the request body is not valid JSON"),
    ("truncated JSON", '{"kind": "sales_by_day"', JSON, 400, "the request body is not valid JSON"),
    ("empty body", "", JSON, 400, "the request body is empty"),
    ("invalid UTF-8", b'{"kind": "\xff\xfe"}', JSON, 400, "the request body is not valid JSON"),
    ("nested too deeply", "[" * 5000 + "]" * 5000, JSON, 400, "nested too deeply"),
    (
        "form encoded",
        "kind=sales_by_day",
        "application/x-www-form-urlencoded",
        415,
        "send the body as application/json, not application/x-www-form-urlencoded",
    ),
    ("plain text", '{"kind": "sales_by_day"}', "text/plain", 415, "not text/plain"),
    ("no content type", '{"kind": "sales_by_day"}', None, 415, "not no Content-Type"),
    (
        "body too large",
        '{"kind": "' + "x" * 20_000 + '"}',
        JSON,
        413,
        "larger than the limit of 16384 bytes",
    ),
]

BAD_SIGNUPS: list[tuple[str, Any, str | None, int, str]] = [
    ("missing e-mail", {"name": "Ann"}, JSON, 422, "email: is required"),
    ("blank e-mail", {"email": "  ", "name": "Ann"}, JSON, 422, "email: is required"),
    ("malformed e-mail", {"email": "ann@", "name": "Ann"}, JSON, 422, "email: must look like"),
    ("missing name", {"email": "ann@example.org"}, JSON, 422, "name: is required"),
    (
        "name with control characters",
        {"email": "ann@example.org", "name": "A\x00nn"},
        JSON,
        422,
        "name: contains control characters",
    ),
    (
        "unknown field",
        {"email": "ann@example.org", "name": "Ann", "admin": True},
        JSON,
        422,
        "admin: is not a known field",
    ),
    ("a string, not an object", '"ann@example.org"', JSON, 422, 'expected an object with "email"'),
    ("not JSON", "email=ann@example.org", JSON, 400, "not valid JSON"),
    ("wrong content type", '{"email": "ann@example.org"}', "text/plain", 415, "application/json"),
    ("body too large", '{"name": "' + "x" * 20_000 + '"}', JSON, 413, "larger than the limit"),
]


def _post(client: FlaskClient, path: str, body: Any, content_type: str | None) -> Any:
    if isinstance(body, str | bytes):
        headers = {"Content-Type": content_type} if content_type else {}
        return client.post(path, data=body, headers=headers)
    return client.post(path, json=body)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "phrase"),
    [case[1:] for case in BAD_REPORTS],
    ids=[case[0] for case in BAD_REPORTS],
)
def test_a_bad_report_request_gets_its_4xx_and_leaves_nothing_behind(
    client: FlaskClient,
    redis_client: redis.Redis,
    session_factory: SessionFactory,
    body: Any,
    content_type: str | None,
    status: int,
    phrase: str,
) -> None:
    response = _post(client, "/api/reports", body, content_type)

    assert response.status_code == status
    assert response.is_json
    error = response.get_json()
    assert phrase in error["error"]
    assert error["status"] == status
    if status == 422:
        assert error["problems"], "a validation error lists its problems"
    assert queued_jobs(redis_client) == 0
    assert stored_rows(session_factory) == (0, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "phrase"),
    [case[1:] for case in BAD_SIGNUPS],
    ids=[case[0] for case in BAD_SIGNUPS],
)
def test_a_bad_signup_gets_its_4xx_and_leaves_nothing_behind(
    client: FlaskClient,
    redis_client: redis.Redis,
    session_factory: SessionFactory,
    body: Any,
    content_type: str | None,
    status: int,
    phrase: str,
) -> None:
    response = _post(client, "/api/signups", body, content_type)

    assert response.status_code == status
    assert phrase in response.get_json()["error"]
    assert queued_jobs(redis_client) == 0
    assert stored_rows(session_factory) == (0, 0)


def test_a_duplicate_signup_is_a_409_and_enqueues_nothing_more(
    client: FlaskClient, redis_client: redis.Redis, session_factory: SessionFactory
) -> None:
    assert (
        client.post("/api/signups", json={"email": "ann@example.org", "name": "Ann"}).status_code
        == 202
    )
    # The first signup's jobs, relayed from the outbox by the app's relay thread.
    jobs_before = wait_for(lambda: queued_jobs(redis_client) == 3 and 3, message="3 jobs")

    response = client.post("/api/signups", json={"email": "ANN@example.org", "name": "Ann"})

    assert response.status_code == 409
    assert "already exists" in response.get_json()["error"]
    assert queued_jobs(redis_client) == jobs_before
    assert stored_rows(session_factory) == (0, 1)
