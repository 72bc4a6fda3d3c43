"""Rendering the shop's mails and sorting SMTP failures, without a server."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from shop.accounts import UserRecord
from shop.errors import PermanentMailError, TransientMailError
from shop.mail import (
    admin_signup_email,
    classify_smtp_error,
    message_id_for,
    report_completed_email,
    welcome_email,
)
from shop.models import ReportStatus
from shop.reports import ReportRecord
from shop.settings import ShopSettings

SETTINGS = ShopSettings(
    database_url="sqlite:///unused.db",
    results_dir=Path("/unused"),
    base_url="https://shop.example.org",
    mail_from="Shop <shop@example.org>",
    admin_email="admin@example.org",
)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
USER = UserRecord(id=7, email="ada@example.org", name="Ada & <Co>", created_at=NOW)
REPORT = ReportRecord(
    id="0123456789abcdef0123456789abcdef",
    kind="sales_by_product",
    parameters={"from": "2024-04-01", "to": "2024-04-30"},
    status=ReportStatus.DONE,
    error=None,
    result_location="0123456789abcdef0123456789abcdef",
    notify_email="ana@example.org",
    job_id=None,
    enqueue_failed=False,
    enqueue_error=None,
    attempts=1,
    created_at=NOW,
    started_at=NOW,
    finished_at=NOW,
)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(text_part, EmailMessage)
    assert isinstance(html_part, EmailMessage)
    return text_part.get_content(), html_part.get_content()


def test_every_mail_is_multipart_alternative_with_headers_set() -> None:
    for message in (
        report_completed_email(SETTINGS, REPORT, now=NOW),
        welcome_email(SETTINGS, USER, now=NOW),
        admin_signup_email(SETTINGS, USER, now=NOW),
    ):
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert message["From"] == "Shop <shop@example.org>"
        assert message["Date"] == "Wed, 01 May 2024 12:00:00 +0000"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Message-ID"] is None


def test_the_report_mail_carries_kind_range_and_link() -> None:
    message = report_completed_email(SETTINGS, REPORT, now=NOW)
    text, html = bodies(message)
    link = "https://shop.example.org/reports/0123456789abcdef0123456789abcdef/download"
    assert message["To"] == "ana@example.org"
    assert link in text
    assert f'href="{link}"' in html
    assert "Sales by product report for 2024-04-01 to 2024-04-30" in text


def test_names_are_escaped_in_html_but_not_in_text() -> None:
    text, html = bodies(welcome_email(SETTINGS, USER, now=NOW))
    assert "Welcome, Ada & <Co>!" in text
    assert "Welcome, Ada &amp; &lt;Co&gt;!" in html
    admin = admin_signup_email(SETTINGS, USER, now=NOW)
    assert admin["To"] == "admin@example.org"
    assert "2024-05-01 12:00 UTC" in bodies(admin)[0]


def test_message_ids_are_deterministic_per_key() -> None:
    first = message_id_for("welcome:7", "example.org")
    assert first == message_id_for("welcome:7", "example.org")
    assert first != message_id_for("welcome:8", "example.org")
    assert first.startswith("<") and first.endswith("@example.org>")


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (smtplib.SMTPServerDisconnected("gone"), TransientMailError, None),
        (smtplib.SMTPConnectError(554, b"no service"), TransientMailError, 554),
        (smtplib.SMTPHeloError(501, b"bad helo"), TransientMailError, 501),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), TransientMailError, 535),
        (smtplib.SMTPSenderRefused(451, b"later", "shop@example.org"), TransientMailError, 451),
        (
            smtplib.SMTPSenderRefused(553, b"not allowed", "shop@example.org"),
            PermanentMailError,
            553,
        ),
        (smtplib.SMTPDataError(452, b"storage full"), TransientMailError, 452),
        (smtplib.SMTPDataError(554, b"spam"), PermanentMailError, 554),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no user")}), PermanentMailError, 550),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"busy")}), TransientMailError, 450),
        (
            smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no"), "b@x.org": (451, b"later")}),
            TransientMailError,
            451,
        ),
        (ConnectionRefusedError(111, "refused"), TransientMailError, None),
        (TimeoutError("timed out"), TransientMailError, None),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), TransientMailError, None),
    ],
)
def test_smtp_failures_sort_into_transient_and_permanent(
    error: BaseException, kind: type[Exception], code: int | None
) -> None:
    classified = classify_smtp_error(error)
    assert type(classified) is kind
    assert classified.smtp_code == code  # type: ignore[attr-defined]
    assert not isinstance(classified, OSError)
