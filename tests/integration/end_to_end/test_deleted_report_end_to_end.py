"""A report deleted before its job runs: the job is discarded, not retried or buried."""

from __future__ import annotations

from collections.abc import Callable

import redis

from shop.reports import delete_report
from tests.integration.end_to_end.conftest import Stack
from tests.support.polling import wait_for


def test_the_job_of_a_deleted_report_is_discarded(
    sqlite_database_url: str, make_stack: Callable[..., Stack], redis_client: redis.Redis
) -> None:
    stack = make_stack(sqlite_database_url)
    answer = stack.web.request(
        "POST", "/api/reports", {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}
    )
    assert answer.status == 202
    report_id = answer.json()["id"]
    delete_report(stack.session_factory, report_id)

    worker = stack.start_worker()

    wait_for(lambda: redis_client.get("stat:processed") == "1", message="the job to run")
    wait_for(lambda: "discarding ProcessReportJob" in worker.log(), message="the discard log")
    assert redis_client.llen("queue:reports") == 0
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 0
    assert redis_client.llen("queue:mailers") == 0
    assert stack.web.request("GET", f"/api/reports/{report_id}").status == 404
    assert stack.smtp.data_attempts == 0
    assert worker.running()
