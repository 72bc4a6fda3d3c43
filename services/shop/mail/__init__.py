"""The shop's mail: rendering, SMTP transport and idempotent delivery.

A delivery job calls, for example::

    message = welcome_email(settings, load_user(session_factory, user_id))
    transport = SmtpTransport(settings.smtp)
    deliver_once(session_factory, transport, welcome_delivery_key(user_id), message)

and retries on `TransientMailError` (which includes `DeliveryInProgress`).
"""

from shop.errors import DeliveryInProgress, MailError, PermanentMailError, TransientMailError
from shop.mail.delivery import DeliveryOutcome, deliver_once, message_id_for
from shop.mail.messages import (
    admin_signup_delivery_key,
    admin_signup_email,
    download_url,
    report_completed_delivery_key,
    report_completed_email,
    welcome_delivery_key,
    welcome_email,
)
from shop.mail.transport import MailTransport, SmtpTransport, classify_smtp_error
from shop.smtp_url import SmtpEndpoint, SmtpSecurity, parse_smtp_url

__all__ = [
    "DeliveryInProgress",
    "DeliveryOutcome",
    "MailError",
    "MailTransport",
    "PermanentMailError",
    "SmtpEndpoint",
    "SmtpSecurity",
    "SmtpTransport",
    "TransientMailError",
    "admin_signup_delivery_key",
    "admin_signup_email",
    "classify_smtp_error",
    "deliver_once",
    "download_url",
    "message_id_for",
    "parse_smtp_url",
    "report_completed_delivery_key",
    "report_completed_email",
    "welcome_delivery_key",
    "welcome_email",
]
