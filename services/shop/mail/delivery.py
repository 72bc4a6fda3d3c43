"""Idempotent mail delivery: one message per delivery key, however often a job retries.

A delivery goes through three steps, each its own short transaction or action:

1. Claim: the key's row in `mail_deliveries` is created if missing, then claimed
   with a conditional UPDATE that only succeeds when the mail is not sent yet and
   nobody holds an unexpired claim. Only one attempt at a time can hold the claim.
2. Send over SMTP.
3. Record `sent_at`. If the send failed instead, the claim is released so the next
   retry may send at once.

What this guarantees:

- Once `sent_at` is committed, every later call for the key returns `ALREADY_SENT`
  without touching SMTP.
- Two attempts never send concurrently; the loser gets `DeliveryInProgress` (a
  `TransientMailError`, so the job retries later).
- No mail is lost to a crash: an attempt that dies after claiming leaves a claim that
  expires after `lease`, and the next retry sends.
- A duplicate is possible in one window only: the SMTP server accepted the message
  and then the process died (or the database stayed unwritable through the brief
  retries of step 3) before `sent_at` was committed. SMTP has no way to ask "did you
  get this?", so after the lease a retry sends again. It carries the same
  Message-ID, derived from the key, so mail clients and archives can fold the copies.

In short: at-least-once delivery, exactly once unless a crash hits that window.
"""

from __future__ import annotations

import enum
import hashlib
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from shop.db.conflicts import insert_unless_present
from shop.db.engine import SessionFactory, write_session
from shop.errors import DeliveryInProgress
from shop.mail.transport import MailTransport
from shop.models import MailDelivery, table_of, utcnow

DEFAULT_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 200
FALLBACK_DOMAIN = "sidequest.localhost"
# Pauses between attempts to record a successful send (step 3): the one write whose
# failure can cause a duplicate is worth a few quick retries.
RECORD_RETRY_DELAYS = (0.05, 0.25, 1.0)


class DeliveryOutcome(enum.Enum):
    """What `deliver_once` did."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"


def message_id_for(delivery_key: str, domain: str) -> str:
    """The Message-ID of the mail delivered under `delivery_key`, e.g. `<ab12…@shop.test>`."""
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def deliver_once(
    session_factory: SessionFactory,
    transport: MailTransport,
    delivery_key: str,
    message: EmailMessage,
    *,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryOutcome:
    """Send `message` unless a message was already sent under `delivery_key`.

    Sets the message's Message-ID header from the key (and the From domain). See the
    module docstring for the guarantees.

    Args:
        session_factory: Database holding the delivery records.
        transport: How to send.
        delivery_key: Names the delivery, e.g. `welcome:42`; at most 200 characters.
        message: The message; must have a To header.
        lease: How long a claim protects an attempt in flight; longer than any
            send can take.

    Returns:
        `SENT` when this call sent the message, `ALREADY_SENT` when an earlier one did.

    Raises:
        ValueError: The key is empty or too long, or the message has no recipient.
        DeliveryInProgress: Another attempt holds an unexpired claim on the key.
        TransientMailError: Sending failed and may succeed later.
        PermanentMailError: The server refused the message for good.
        sqlalchemy.exc.OperationalError: The database failed.
    """
    if not isinstance(delivery_key, str) or not 0 < len(delivery_key) <= MAX_KEY_LENGTH:
        raise ValueError(f"delivery_key must be a string of 1 to {MAX_KEY_LENGTH} characters")
    recipients = [address for _name, address in getaddresses(message.get_all("To", [])) if address]
    if not recipients:
        raise ValueError("the message has no To address")
    del message["Message-ID"]
    message["Message-ID"] = message_id_for(delivery_key, _sender_domain(message))

    token = _claim(session_factory, delivery_key, message, ", ".join(recipients), lease)
    if token is None:
        return DeliveryOutcome.ALREADY_SENT
    try:
        transport.send(message)
    except BaseException:
        _release(session_factory, delivery_key, token)
        raise
    _record_sent(session_factory, delivery_key)
    return DeliveryOutcome.SENT


def _claim(
    session_factory: SessionFactory,
    key: str,
    message: EmailMessage,
    recipient: str,
    lease: timedelta,
) -> str | None:
    """Claim the key; None when it was sent already. Raises DeliveryInProgress."""
    now = utcnow()
    token = uuid.uuid4().hex
    table = table_of(MailDelivery)
    with write_session(session_factory) as session:
        insert_unless_present(
            session,
            table,
            {
                "delivery_key": key,
                "recipient": recipient[:254],
                "subject": str(message.get("Subject", ""))[:255],
                "message_id": str(message["Message-ID"]),
                "attempts": 0,
                "created_at": now,
            },
            conflict_columns=["delivery_key"],
        )
        claimed = session.execute(
            update(MailDelivery)
            .where(
                MailDelivery.delivery_key == key,
                MailDelivery.sent_at.is_(None),
                (MailDelivery.claimed_at.is_(None)) | (MailDelivery.claimed_at < now - lease),
            )
            .values(claim_token=token, claimed_at=now, attempts=MailDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            return token
        holder = session.execute(
            select(MailDelivery.sent_at, MailDelivery.claimed_at).where(
                MailDelivery.delivery_key == key
            )
        ).one()
    if holder.sent_at is not None:
        return None
    # Column values come back as aware UTC datetimes (models.UtcDateTime).
    expires = holder.claimed_at + lease if holder.claimed_at is not None else now
    raise DeliveryInProgress(
        f"another attempt is delivering {key!r}; retry after its lease",
        retry_after=(expires - now).total_seconds(),
    )


def _release(session_factory: SessionFactory, key: str, token: str) -> None:
    """Give up our claim after a failed send, so a retry need not wait for the lease."""
    try:
        with write_session(session_factory) as session:
            session.execute(
                update(MailDelivery)
                .where(MailDelivery.delivery_key == key, MailDelivery.claim_token == token)
                .values(claim_token=None, claimed_at=None)
                .execution_options(synchronize_session=False)
            )
    except SQLAlchemyError:
        # The send error matters more; the claim expires with its lease anyway.
        pass


def _record_sent(session_factory: SessionFactory, key: str) -> None:
    for attempt, delay in enumerate((*RECORD_RETRY_DELAYS, None)):
        try:
            with write_session(session_factory) as session:
                session.execute(
                    update(MailDelivery)
                    .where(MailDelivery.delivery_key == key)
                    .values(sent_at=utcnow(), claim_token=None, claimed_at=None)
                    .execution_options(synchronize_session=False)
                )
            return
        except OperationalError:
            if delay is None:
                raise
            time.sleep(delay * (attempt + 1))


def _sender_domain(message: EmailMessage) -> str:
    address = parseaddr(str(message.get("From", "")))[1]
    domain = address.rpartition("@")[2]
    return domain.lower() or FALLBACK_DOMAIN
