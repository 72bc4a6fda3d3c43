"""Clients for a running stack, used only through its public interfaces (HTTP and Redis).

`Prometheus` queries the HTTP API; `Mail` reads the mail sink's API, which is Mailpit's
(`/api/v1/messages`, `/api/v1/message/<ID>/raw`) in the Compose stack and the dev
sink's copy of that part of it under `make dev`; `Shop` requests reports.
"""

from __future__ import annotations

import email
import email.policy
import json
import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import yaml

from tests.support.polling import wait_for
from tests.support.web_server import HttpAnswer, http

FINAL_REPORT_STATES = ("done", "failed")


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class Prometheus:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        answer = http("GET", f"{self.url}{path}{query}", timeout=15)
        document = answer.json()
        if answer.status != 200 or document.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {answer.status} {document}")
        return document["data"]

    def query(self, expr: str) -> list[Sample]:
        """An instant query's samples (a scalar result becomes one unlabelled sample)."""
        data = self.get("/api/v1/query", query=expr)
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]

    def value(self, expr: str) -> float | None:
        """The value of a query that yields at most one sample (None when it yields none)."""
        samples = self.query(expr)
        if len(samples) > 1:
            raise AssertionError(f"{expr} gave {len(samples)} samples, one expected")
        return samples[0].value if samples else None

    def wait_for_value(self, expr: str, wanted: float, timeout: float) -> None:
        """Poll until `expr` equals `wanted`."""
        try:
            wait_for(lambda: self.value(expr) == wanted, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(
                f"Prometheus did not report {expr} == {wanted} within {timeout:g}s; "
                f"it reports {self.value(expr)}"
            ) from None

    def scrape_interval(self) -> float:
        """The global scrape interval of the running configuration, in seconds."""
        config = yaml.safe_load(self.get("/api/v1/status/config")["yaml"])
        text = str(config["global"]["scrape_interval"])
        units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        for unit in ("ms", "s", "m", "h"):
            if text.endswith(unit) and text[: -len(unit)].isdigit():
                return int(text[: -len(unit)]) * units[unit]
        raise AssertionError(f"unexpected scrape_interval {text!r}")

    def targets(self) -> dict[str, list[str]]:
        """{job: [health of each active target]}."""
        found: dict[str, list[str]] = {}
        for target in self.get("/api/v1/targets")["activeTargets"]:
            found.setdefault(target["labels"]["job"], []).append(target["health"])
        return found


def finite(samples: list[Sample]) -> bool:
    """Whether a query returned data: at least one sample with a number (not NaN)."""
    return any(not math.isnan(sample.value) for sample in samples)


@dataclass(frozen=True)
class Mail:
    """A mail the sink received."""

    id: str
    recipients: tuple[str, ...]
    subject: str


class MailSink:
    PAGE = 500

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def messages(self) -> list[Mail]:
        found: list[Mail] = []
        start = 0
        while True:
            answer = http(
                "GET", f"{self.url}/api/v1/messages?start={start}&limit={self.PAGE}", timeout=15
            )
            assert answer.status == 200, answer.body
            page = answer.json()
            for message in page["messages"]:
                recipients = tuple(address["Address"].lower() for address in message["To"])
                found.append(Mail(message["ID"], recipients, message["Subject"]))
            start += len(page["messages"])
            if not page["messages"] or start >= page["total"]:
                return found

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.messages() if address.lower() in mail.recipients]

    def wait_for_mail_to(self, address: str, count: int, timeout: float) -> list[Mail]:
        """Poll until at least `count` mails to `address` arrived; returns them all."""

        def arrived() -> bool:
            try:
                return len(self.to(address)) >= count
            except OSError:
                return False  # a sink that is starting again (Docker's proxy resets)

        wait_for(
            arrived,
            timeout=timeout,
            interval=0.2,
            message=f"{count} mail(s) to {address}",
        )
        return self.to(address)

    def message(self, mail_id: str) -> EmailMessage:
        answer = http("GET", f"{self.url}/api/v1/message/{mail_id}/raw", timeout=15)
        assert answer.status == 200, answer.body
        parsed = email.message_from_bytes(answer.body, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Shop:
    """The web tier's report API."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def request(self, method: str, path: str, body: Any = None) -> HttpAnswer:
        return http(method, f"{self.url}{path}", json_body=body, timeout=30)

    def request_report(self, email_address: str, kind: str = "sales_by_day") -> dict[str, Any]:
        """Request a report over the last year (the days `make dev` seeds orders for)."""
        today = datetime.now(UTC).date()
        body = {
            "kind": kind,
            "from": (today - timedelta(days=364)).isoformat(),
            "to": today.isoformat(),
            "email": email_address,
        }
        answer = self.request("POST", "/api/reports", body)
        assert answer.status == 202, answer.body
        report: dict[str, Any] = answer.json()
        return report

    def report(self, report_id: str) -> dict[str, Any]:
        answer = self.request("GET", f"/api/reports/{report_id}")
        assert answer.status == 200, answer.body
        report: dict[str, Any] = answer.json()
        return report

    def wait_until_final(
        self,
        report_ids: list[str],
        timeout: float,
        on_poll: Callable[[], object] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Poll until every report is done or failed; returns them by id.

        `on_poll` is called at each round (to sample something while the jobs run).
        """
        final: dict[str, dict[str, Any]] = {}

        def all_final() -> bool:
            if on_poll is not None:
                on_poll()
            for report_id in report_ids:
                if report_id not in final:
                    report = self.report(report_id)
                    if report["status"] in FINAL_REPORT_STATES:
                        final[report_id] = report
            return len(final) == len(report_ids)

        wait_for(
            all_final,
            timeout=timeout,
            interval=0.2,
            message=f"{len(report_ids) - len(final)} of {len(report_ids)} reports to finish",
        )
        return final


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
