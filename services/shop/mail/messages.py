"""The shop's mails, rendered from the Jinja2 templates in `templates/`.

Each function returns a complete `EmailMessage` (multipart/alternative: plain text
first, then HTML) with From, To, Subject and Date set. The Message-ID is left to
`deliver_once`, which derives it from the delivery key. The `*_delivery_key`
functions give the key each mail is delivered under, so that one report or one
signup is mailed once however often its job runs.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shop.accounts import UserRecord
from shop.models import utcnow
from shop.reports.records import ReportRecord
from shop.settings import ShopSettings

_templates = Environment(
    loader=PackageLoader("shop.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def download_url(settings: ShopSettings, report_id: str) -> str:
    """The public link to a report's download."""
    return f"{settings.base_url}/reports/{report_id}/download"


def report_completed_delivery_key(report_id: str) -> str:
    """Delivery key of the completion mail of one report."""
    return f"report-completed:{report_id}"


def welcome_delivery_key(user_id: int) -> str:
    """Delivery key of a user's welcome mail."""
    return f"welcome:{user_id}"


def admin_signup_delivery_key(user_id: int) -> str:
    """Delivery key of the admin's notice about one signup."""
    return f"admin-signup:{user_id}"


def report_completed_email(
    settings: ShopSettings, report: ReportRecord, *, now: datetime | None = None
) -> EmailMessage:
    """Tell whoever asked for the report (or the admin) that it is ready to download."""
    return _compose(
        settings,
        template="report_completed",
        to=report.notify_email or settings.admin_email,
        subject=(
            f"Your report is ready: {report.kind_title}, {report.date_from} to {report.date_to}"
        ),
        now=now,
        kind_title=report.kind_title,
        date_from=report.date_from,
        date_to=report.date_to,
        download_url=download_url(settings, report.id),
    )


def welcome_email(
    settings: ShopSettings, user: UserRecord, *, now: datetime | None = None
) -> EmailMessage:
    """Greet a new user."""
    return _compose(
        settings,
        template="welcome",
        to=user.email,
        subject="Welcome to the Sidequest demo shop",
        now=now,
        name=user.name,
        email=user.email,
    )


def admin_signup_email(
    settings: ShopSettings, user: UserRecord, *, now: datetime | None = None
) -> EmailMessage:
    """Tell the admin that someone signed up."""
    return _compose(
        settings,
        template="admin_signup",
        to=settings.admin_email,
        subject=f"New signup: {user.name} <{user.email}>",
        now=now,
        name=user.name,
        email=user.email,
        user_id=user.id,
        signed_up=user.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


def _compose(
    settings: ShopSettings,
    *,
    template: str,
    to: str,
    subject: str,
    now: datetime | None,
    **context: Any,
) -> EmailMessage:
    values = {"base_url": settings.base_url, "subject": subject, **context}
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or utcnow())
    # Tells auto-responders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_templates.get_template(f"{template}.txt").render(values))
    message.add_alternative(
        _templates.get_template(f"{template}.html").render(values), subtype="html"
    )
    return message
