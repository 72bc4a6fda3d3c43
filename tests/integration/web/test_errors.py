"""Unexpected failures become a 500 without a trace; queue outages on the form are shown."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import MakeApp
from tests.support.redis_server import RedisServer


def test_an_unexpected_error_is_a_500_that_keeps_its_details_in_the_log(
    make_app: MakeApp, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(redis_url, PROPAGATE_EXCEPTIONS=False)

    def explode() -> str:
        raise RuntimeError("secret detail: password=hunter2")

    app.add_url_rule("/api/explode", "explode", explode)
    app.add_url_rule("/explode", "explode_page", explode)
    client = app.test_client()

    api = client.get("/api/explode")
    page = client.get("/explode", headers={"Accept": "text/html"})

    assert api.status_code == page.status_code == 500
    assert api.get_json() == {"error": "internal error; it has been logged", "status": 500}
    assert b"hunter2" not in page.data
    assert b"internal error; it has been logged" in page.data
    assert "secret detail: password=hunter2" in caplog.text


def test_the_report_form_with_redis_down_accepts_the_report_into_the_outbox(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    client = make_app(own_redis_server.url).test_client()
    page = client.get("/").data
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    own_redis_server.stop()

    response = client.post(
        "/reports",
        data={"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-02",
              "csrf_token": match.group(1).decode()},
    )  # fmt: skip

    # The job waits in the outbox, committed with the report: nothing to apologise for.
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).data
    assert b"the job queue is unavailable right now" not in shown
    assert b"not enqueued" not in shown
