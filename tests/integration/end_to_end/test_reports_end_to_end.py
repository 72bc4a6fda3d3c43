"""A report requested over HTTP is built by a real worker and mailed through real SMTP,
on SQLite (served by gunicorn) and on PostgreSQL (through Flask's test client)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import text

from shop.db import read_session
from tests.integration.end_to_end.conftest import BASE_URL, Stack
from tests.support.polling import wait_for

CENT = Decimal("0.01")
# The last quarter of the seeded year: a range with autumn orders and the Christmas peak.
RANGE = {"from": "2024-10-01", "to": "2024-12-31"}
RANGE_SQL = "created_at >= '2024-10-01' AND created_at < '2025-01-01'"


def money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def by_product_in_sql(stack: Stack) -> dict[str, tuple[int, int, Decimal]]:
    """Orders, units and revenue per product, straight from the orders table."""
    query = text(
        "SELECT product, COUNT(*), SUM(quantity), SUM(amount) FROM orders "
        f"WHERE {RANGE_SQL} GROUP BY product"
    )
    with read_session(stack.session_factory) as session:
        return {row[0]: (int(row[1]), int(row[2]), money(row[3])) for row in session.execute(query)}


def totals_in_sql(stack: Stack) -> tuple[int, int, Decimal]:
    query = text(f"SELECT COUNT(*), SUM(quantity), SUM(amount) FROM orders WHERE {RANGE_SQL}")
    with read_session(stack.session_factory) as session:
        row = session.execute(query).one()
    return int(row[0]), int(row[1]), money(row[2])


def csv_table(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def wait_until_final(stack: Stack, report_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        report: dict[str, Any] = stack.web.request("GET", f"/api/reports/{report_id}").json()
        return report if report["status"] in ("done", "failed") else None

    return wait_for(final, timeout=60, interval=0.05, message=f"report {report_id} to finish")


def test_a_requested_report_is_built_and_mailed(
    database_url: str, make_stack: Callable[..., Stack], redis_client: redis.Redis
) -> None:
    stack = make_stack(database_url)
    stack.start_worker()

    by_product = stack.web.request(
        "POST", "/api/reports", {"kind": "sales_by_product", **RANGE, "email": "ana@example.org"}
    )
    by_day = stack.web.request("POST", "/api/reports", {"kind": "sales_by_day", **RANGE})

    assert (by_product.status, by_day.status) == (202, 202)
    product_report = wait_until_final(stack, by_product.json()["id"])
    day_report = wait_until_final(stack, by_day.json()["id"])
    assert (product_report["status"], day_report["status"]) == ("done", "done")
    assert product_report["jid"] == by_product.json()["jid"]

    product_csv = stack.web.request("GET", product_report["links"]["download"])
    day_csv = stack.web.request("GET", day_report["links"]["download"])
    assert (product_csv.status, day_csv.status) == (200, 200)

    expected = by_product_in_sql(stack)
    rows = csv_table(product_csv.body)
    assert {row["product"]: (int(row["orders"]), int(row["units"]), money(row["revenue"]))
            for row in rows} == expected  # fmt: skip
    days = csv_table(day_csv.body)
    assert len(days) == 92, "one row per day of the range, days without orders included"
    total = (
        sum(int(row["orders"]) for row in days),
        sum(int(row["units"]) for row in days),
        sum((money(row["revenue"]) for row in days), Decimal("0.00")),
    )
    assert total == totals_in_sql(stack)
    assert total[0] > 1000, "the range holds a realistic number of orders"

    mails = stack.smtp.wait_for_messages(2, timeout=30)
    by_recipient = {mail.recipients[0]: mail for mail in mails}
    assert set(by_recipient) == {"ana@example.org", "admin@shop.test"}
    product_mail = by_recipient["ana@example.org"].message
    link = f"{BASE_URL}/reports/{product_report['id']}/download"
    body = product_mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert link in body.get_content()
    assert product_mail["Subject"].startswith("Your report is ready: Sales by product")
    followed = stack.web.request("GET", link.removeprefix(BASE_URL))
    assert followed.body == product_csv.body

    # Every job ran exactly once: two builds and two mail deliveries, nothing left over.
    wait_for(lambda: redis_client.get("stat:processed") == "4", message="4 jobs processed")
    assert redis_client.get("stat:failed") in (None, "0")
    assert redis_client.zcard("retry") == redis_client.zcard("dead") == 0
    assert len(stack.smtp.messages) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_report_job_run_twice_mails_once(
    database_url: str, make_stack: Callable[..., Stack], redis_client: redis.Redis
) -> None:
    stack = make_stack(database_url)
    answer = stack.web.request("POST", "/api/reports", {"kind": "sales_by_day", **RANGE})
    report_id = answer.json()["id"]
    again = stack.web.request("POST", f"/api/reports/{report_id}/enqueue")
    assert again.status == 202
    # The first through the outbox (relayed by the web's relay), the second pushed.
    wait_for(lambda: redis_client.llen("queue:reports") == 2, message="both jobs")

    # One thread, so the two jobs run one after the other (concurrent runs would both
    # build, which is harmless but makes the attempt count below 2).
    stack.start_worker(concurrency=1)

    wait_for(lambda: redis_client.get("stat:processed") == "4", message="2 builds, 2 deliveries")
    report = stack.web.request("GET", f"/api/reports/{report_id}").json()
    assert report["status"] == "done"
    assert report["attempts"] == 1, "the second run found the report built"
    assert [mail.recipients for mail in stack.smtp.messages] == [("admin@shop.test",)]
