"""The shop's mails rendered from stored records and delivered to a real SMTP server."""

from __future__ import annotations

from email.message import EmailMessage

from shop.accounts import create_user, load_user
from shop.db import SessionFactory
from shop.errors import TransientMailError
from shop.mail import (
    DeliveryOutcome,
    SmtpTransport,
    admin_signup_delivery_key,
    admin_signup_email,
    deliver_once,
    report_completed_delivery_key,
    report_completed_email,
    welcome_delivery_key,
    welcome_email,
)
from shop.reports import create_report, load_report, mark_done, validate_report_request
from shop.settings import ShopSettings
from tests.support.smtp_server import SmtpSink


def parts(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(text_part, EmailMessage)
    assert isinstance(html_part, EmailMessage)
    return text_part.get_content(), html_part.get_content()


def test_the_report_completed_mail_arrives_with_the_download_link(
    session_factory: SessionFactory, settings: ShopSettings, smtp_sink: SmtpSink
) -> None:
    request = validate_report_request(
        {
            "kind": "sales_by_day",
            "from": "2024-01-01",
            "to": "2024-01-31",
            "email": "ana@example.org",
        }
    )
    report = create_report(session_factory, request)
    mark_done(session_factory, report.id, report.id)
    stored = load_report(session_factory, report.id)

    outcome = deliver_once(
        session_factory,
        SmtpTransport(settings.smtp),
        report_completed_delivery_key(report.id),
        report_completed_email(settings, stored),
    )

    assert outcome is DeliveryOutcome.SENT
    [mail] = smtp_sink.wait_for_messages(1)
    link = f"http://shop.test:8000/reports/{report.id}/download"
    text, html = parts(mail.message)
    assert link in text
    assert f'href="{link}"' in html
    assert "Sales by day" in text
    assert "2024-01-01 to 2024-01-31" in text
    assert mail.recipients == ("ana@example.org",)
    assert mail.mail_from == "shop@shop.test"
    assert mail.message["Subject"] == "Your report is ready: Sales by day, 2024-01-01 to 2024-01-31"


def test_a_report_without_an_address_is_mailed_to_the_admin(
    session_factory: SessionFactory, settings: ShopSettings
) -> None:
    request = validate_report_request(
        {"kind": "sales_by_product", "from": "2024-01-01", "to": "2024-01-31"}
    )
    report = create_report(session_factory, request)
    assert report_completed_email(settings, report)["To"] == "admin@shop.test"


def test_signup_mails_reach_the_user_and_the_admin_once_each(
    session_factory: SessionFactory, settings: ShopSettings, smtp_sink: SmtpSink
) -> None:
    user = create_user(session_factory, {"email": "lin@example.org", "name": "Lin <b>Bold</b>"})
    transport = SmtpTransport(settings.smtp)
    smtp_sink.fail_next("DATA", code=421, text="4.7.0 Busy, try again")

    for _attempt in range(3):  # a failing first attempt and two retries of each job
        for key, message in (
            (
                welcome_delivery_key(user.id),
                welcome_email(settings, load_user(session_factory, user.id)),
            ),
            (admin_signup_delivery_key(user.id), admin_signup_email(settings, user)),
        ):
            try:
                deliver_once(session_factory, transport, key, message)
            except TransientMailError as error:  # the 4xx of the first attempt
                assert error.smtp_code == 421

    mails = smtp_sink.wait_for_messages(2)
    assert len(mails) == 2
    by_recipient = {mail.recipients[0]: mail for mail in mails}
    welcome_text, welcome_html = parts(by_recipient["lin@example.org"].message)
    assert "Welcome, Lin <b>Bold</b>!" in welcome_text
    assert "Welcome, Lin &lt;b&gt;Bold&lt;/b&gt;!" in welcome_html
    admin = by_recipient["admin@shop.test"].message
    assert admin["Subject"] == "New signup: Lin <b>Bold</b> <lin@example.org>"
    assert f"User id:   {user.id}" in parts(admin)[0]
