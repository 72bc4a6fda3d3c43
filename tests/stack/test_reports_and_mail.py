"""Reports requested over HTTP are built by the stack's workers and mailed to the sink."""

from __future__ import annotations

import csv
import io

from tests.stack.stack import Stack, unique_address

KINDS = ("sales_by_day", "sales_by_product", "sales_by_day")


def test_reports_requested_over_http_are_built_and_mailed(stack: Stack) -> None:
    address = unique_address("reports")
    requested = [stack.shop.request_report(address, kind) for kind in KINDS]

    reports = stack.shop.wait_until_final([report["id"] for report in requested], timeout=60)
    assert {report["status"] for report in reports.values()} == {"done"}, reports
    for report in requested:
        assert reports[report["id"]]["jid"] == report["jid"]
        download = stack.shop.request("GET", report["links"]["download"])
        assert download.status == 200
        rows = list(csv.DictReader(io.StringIO(download.body.decode())))
        assert rows, f"report {report['id']} is empty: the stack seeds orders"

    mails = stack.mail.wait_for_mail_to(address, len(requested), timeout=60)
    assert len(mails) == len(requested), "one mail per report, none twice"
    links = set()
    for mail in mails:
        assert mail.subject.startswith("Your report is ready"), mail.subject
        body = stack.mail.message(mail.id).get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        links |= {report["id"] for report in requested if report["links"]["download"] in text}
    assert links == {report["id"] for report in requested}, "each mail links its own report"


def test_the_shop_pages_answer(stack: Stack) -> None:
    for path in ("/", "/reports", "/signup", "/healthz", "/readyz"):
        answer = stack.shop.request("GET", path)
        assert answer.status == 200, (path, answer.body[:200])
