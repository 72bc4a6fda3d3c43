"""Idempotent delivery over a real SMTP server, with records on both backends."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from shop.db import SessionFactory, read_session, write_session
from shop.errors import DeliveryInProgress, MailError, PermanentMailError, TransientMailError
from shop.mail import DeliveryOutcome, SmtpTransport, deliver_once, message_id_for
from shop.models import MailDelivery, utcnow
from tests.support.smtp_server import SmtpSink


def make_message(subject: str = "Your report is ready") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@Shop.Test>"
    message["To"] = "ada@example.org"
    message["Subject"] = subject
    message.set_content("hello\n")
    return message


def delivery_row(factory: SessionFactory, key: str) -> MailDelivery:
    with read_session(factory) as session:
        row = session.scalar(select(MailDelivery).where(MailDelivery.delivery_key == key))
        assert row is not None
        return row


def test_a_second_call_with_the_same_key_sends_nothing(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    transport = SmtpTransport.from_url(smtp_sink.url)

    first = deliver_once(session_factory, transport, "welcome:1", make_message())
    second = deliver_once(session_factory, transport, "welcome:1", make_message())

    assert (first, second) == (DeliveryOutcome.SENT, DeliveryOutcome.ALREADY_SENT)
    [mail] = smtp_sink.wait_for_messages(1)
    assert smtp_sink.data_attempts == 1
    assert mail.message["Message-ID"] == message_id_for("welcome:1", "shop.test")
    row = delivery_row(session_factory, "welcome:1")
    assert row.sent_at is not None
    assert row.attempts == 1
    assert row.claimed_at is None
    assert (row.recipient, row.subject, row.message_id) == (
        "ada@example.org",
        "Your report is ready",
        mail.message["Message-ID"],
    )


def test_a_delivery_deferred_with_4xx_is_sent_once_by_the_retry(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("DATA", code=451, text="4.3.0 Try again later")
    transport = SmtpTransport.from_url(smtp_sink.url)

    with pytest.raises(TransientMailError, match="451"):
        deliver_once(session_factory, transport, "report-completed:abc", make_message())
    assert delivery_row(session_factory, "report-completed:abc").claimed_at is None

    assert deliver_once(session_factory, transport, "report-completed:abc", make_message()) is (
        DeliveryOutcome.SENT
    )
    assert deliver_once(session_factory, transport, "report-completed:abc", make_message()) is (
        DeliveryOutcome.ALREADY_SENT
    )
    assert len(smtp_sink.wait_for_messages(1)) == 1
    assert smtp_sink.data_attempts == 2
    assert delivery_row(session_factory, "report-completed:abc").attempts == 2


def test_a_permanent_refusal_is_raised_and_not_recorded_as_sent(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("RCPT", code=550, text="5.1.1 No such user")
    with pytest.raises(PermanentMailError):
        deliver_once(
            session_factory, SmtpTransport.from_url(smtp_sink.url), "welcome:9", make_message()
        )
    row = delivery_row(session_factory, "welcome:9")
    assert row.sent_at is None
    assert row.claimed_at is None


def claim_by_someone_else(factory: SessionFactory, key: str, age: timedelta) -> None:
    with write_session(factory) as session:
        session.add(
            MailDelivery(
                delivery_key=key,
                recipient="ada@example.org",
                subject="s",
                message_id="<x@shop.test>",
                attempts=1,
                claim_token="another-worker",
                claimed_at=utcnow() - age,
                created_at=utcnow() - age,
            )
        )


def test_a_live_claim_of_another_attempt_makes_this_one_wait(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    claim_by_someone_else(session_factory, "welcome:2", age=timedelta(seconds=5))

    with pytest.raises(DeliveryInProgress) as refused:
        deliver_once(
            session_factory, SmtpTransport.from_url(smtp_sink.url), "welcome:2", make_message()
        )
    assert smtp_sink.data_attempts == 0
    # The default lease is 5 minutes and the claim is 5 s old: a retry is due in 295 s.
    assert 290 <= refused.value.retry_after <= 295


def test_a_claim_refuses_for_the_lease_given_and_says_when_it_expires(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    claim_by_someone_else(session_factory, "welcome:4", age=timedelta(seconds=5))
    transport = SmtpTransport.from_url(smtp_sink.url)

    with pytest.raises(DeliveryInProgress) as refused:
        deliver_once(
            session_factory, transport, "welcome:4", make_message(), lease=timedelta(seconds=8)
        )
    assert 0 < refused.value.retry_after <= 3

    outcome = deliver_once(
        session_factory, transport, "welcome:4", make_message(), lease=timedelta(seconds=4)
    )
    assert outcome is DeliveryOutcome.SENT
    assert len(smtp_sink.wait_for_messages(1)) == 1


def test_an_expired_claim_of_a_crashed_attempt_is_taken_over(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    claim_by_someone_else(session_factory, "welcome:3", age=timedelta(minutes=10))

    outcome = deliver_once(
        session_factory,
        SmtpTransport.from_url(smtp_sink.url),
        "welcome:3",
        make_message(),
        lease=timedelta(minutes=5),
    )

    assert outcome is DeliveryOutcome.SENT
    assert len(smtp_sink.wait_for_messages(1)) == 1
    assert delivery_row(session_factory, "welcome:3").attempts == 2


def test_concurrent_attempts_with_one_key_send_one_message(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    transport = SmtpTransport.from_url(smtp_sink.url)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def attempt() -> None:
        start.wait()
        try:
            outcomes.append(
                deliver_once(session_factory, transport, "admin-signup:7", make_message()).value
            )
        except DeliveryInProgress:
            outcomes.append("in_progress")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes.count("sent") == 1
    assert len(outcomes) == 4
    assert set(outcomes) <= {"sent", "already_sent", "in_progress"}
    assert len(smtp_sink.wait_for_messages(1)) == 1
    assert smtp_sink.data_attempts == 1


def test_different_keys_are_different_deliveries(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    transport = SmtpTransport.from_url(smtp_sink.url)
    deliver_once(session_factory, transport, "welcome:4", make_message("one"))
    deliver_once(session_factory, transport, "admin-signup:4", make_message("two"))
    mails = smtp_sink.wait_for_messages(2)
    assert {m.message["Subject"] for m in mails} == {"one", "two"}
    assert len({m.message["Message-ID"] for m in mails}) == 2


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_unusable_keys_are_refused(
    session_factory: SessionFactory, smtp_sink: SmtpSink, key: str
) -> None:
    with pytest.raises(ValueError, match="delivery_key"):
        deliver_once(session_factory, SmtpTransport.from_url(smtp_sink.url), key, make_message())


def test_a_message_without_recipient_is_refused(
    session_factory: SessionFactory, smtp_sink: SmtpSink
) -> None:
    message = make_message()
    del message["To"]
    with pytest.raises(ValueError, match="no To address"):
        deliver_once(session_factory, SmtpTransport.from_url(smtp_sink.url), "welcome:5", message)


def test_an_unreachable_server_leaves_the_delivery_retryable(
    session_factory: SessionFactory,
) -> None:
    with SmtpSink() as sink:
        url = sink.url
    with pytest.raises(TransientMailError) as caught:
        deliver_once(
            session_factory, SmtpTransport.from_url(url, timeout=2), "welcome:6", make_message()
        )
    assert isinstance(caught.value, MailError)
    assert delivery_row(session_factory, "welcome:6").claimed_at is None
