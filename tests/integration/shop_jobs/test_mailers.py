"""ActionMailer-style mailers: deliver_now, deliver_later and the delivery job."""

from __future__ import annotations

import pytest

from shop.accounts import UserRecord, create_user
from shop.errors import DeliveryInProgress, PermanentMailError, TransientMailError
from shop.jobs import (
    AdminMailer,
    JobWiring,
    MailDeliveryJob,
    ReportMailer,
    UnknownMailAction,
    UserMailer,
    mailer_named,
)
from shop.mail import DeliveryOutcome
from sidequest.job import rescue
from sidequest.testing import FakeAdapter
from tests.support.smtp_server import SmtpSink


@pytest.fixture
def user(wiring: JobWiring) -> UserRecord:
    return create_user(wiring.session_factory, {"email": "Ana@Example.org", "name": "Ana Silva"})


def test_an_action_on_the_class_returns_a_delivery_without_rendering(user: UserRecord) -> None:
    delivery = UserMailer.welcome(user.id)
    assert (delivery.mailer, delivery.action, delivery.args) == (UserMailer, "welcome", (user.id,))
    assert UserMailer.welcome(user_id=user.id).args == (user.id,)


def test_deliver_later_enqueues_a_mail_delivery_job_on_the_mailers_queue(
    user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    job = UserMailer.welcome(user.id).deliver_later()

    [enqueued] = fake_jobs.assert_enqueued(MailDeliveryJob, queue="mailers", count=1)
    assert enqueued.jid == job.jid
    assert enqueued.args == ["UserMailer", "welcome", [user.id]]
    assert smtp_sink.messages == []

    fake_jobs.drain()
    [mail] = smtp_sink.wait_for_messages(1)
    assert mail.recipients == ("ana@example.org",)
    assert mail.message["Subject"] == "Welcome to the Sidequest demo shop"


def test_deliver_later_can_wait(user: UserRecord, fake_jobs: FakeAdapter) -> None:
    UserMailer.welcome(user.id).deliver_later(wait=600)
    [enqueued] = fake_jobs.enqueued(MailDeliveryJob)
    assert enqueued.at is not None


def test_deliver_now_sends_once_however_often_it_is_called(
    user: UserRecord, smtp_sink: SmtpSink
) -> None:
    assert AdminMailer.new_signup(user.id).deliver_now() is DeliveryOutcome.SENT
    assert AdminMailer.new_signup(user.id).deliver_now() is DeliveryOutcome.ALREADY_SENT

    [mail] = smtp_sink.messages
    assert mail.recipients == ("admin@shop.test",)
    assert "ana@example.org" in mail.message["Subject"]


def test_two_delivery_jobs_for_one_mail_send_it_once(
    user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    UserMailer.welcome(user.id).deliver_later()
    UserMailer.welcome(user.id).deliver_later()
    assert fake_jobs.drain() == 2
    assert len(smtp_sink.messages) == 1


def test_a_deferred_mail_is_retried_and_then_sent_once(
    user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("DATA", code=451)
    UserMailer.welcome(user.id).deliver_later()

    assert fake_jobs.drain() == 2

    assert smtp_sink.data_attempts == 2
    assert len(smtp_sink.messages) == 1


def test_a_refused_mail_goes_to_the_dead_set_without_retries(
    user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("RCPT", code=550, text="5.1.1 no such user")
    with pytest.raises(PermanentMailError):
        MailDeliveryJob.perform_now("UserMailer", "welcome", [user.id])
    fake_jobs.assert_nothing_enqueued()
    decision = rescue.decide(
        MailDeliveryJob, PermanentMailError("550"), rescue.FailureState(), True
    )
    assert isinstance(decision, rescue.Dead)


def test_a_mail_claimed_by_another_attempt_is_retried_once_the_claim_expires() -> None:
    # The attempt holding the claim may have died after sending: the retry waits for
    # the claim to expire instead of the polynomial backoff of other transient errors.
    error = DeliveryInProgress("claimed", retry_after=240.0)
    decision = rescue.decide(MailDeliveryJob, error, rescue.FailureState(), True)
    assert isinstance(decision, rescue.Retry)
    assert 241.0 <= decision.delay <= 241.0 * (1 + 0.15)
    later = rescue.decide(
        MailDeliveryJob,
        DeliveryInProgress("claimed", retry_after=0.0),
        rescue.FailureState(3, {decision.rule_key or "": 3}),
        True,
    )
    assert isinstance(later, rescue.Retry)
    assert later.delay <= 1.15
    # Other transient errors keep their own rule and backoff.
    other = rescue.decide(MailDeliveryJob, TransientMailError("421"), rescue.FailureState(), True)
    assert isinstance(other, rescue.Retry)
    assert other.rule_key != decision.rule_key


def test_a_mail_about_a_deleted_record_is_dropped(
    wiring: JobWiring, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    assert MailDeliveryJob.perform_now("ReportMailer", "completed", ["0" * 32]) is None
    assert MailDeliveryJob.perform_now("UserMailer", "welcome", [987654]) is None
    fake_jobs.assert_nothing_enqueued()
    assert smtp_sink.data_attempts == 0


@pytest.mark.parametrize(
    ("mailer", "action", "args", "error"),
    [
        ("NoSuchMailer", "welcome", [1], UnknownMailAction),
        ("UserMailer", "goodbye", [1], UnknownMailAction),
        ("UserMailer", "delivery", [1], UnknownMailAction),
        ("UserMailer", "__init__", [], UnknownMailAction),
        ("UserMailer", "welcome", [1, 2], TypeError),
        ("UserMailer", "welcome", "not a list", TypeError),
    ],
)
def test_a_delivery_job_naming_no_real_action_dies_at_once(
    wiring: JobWiring,
    fake_jobs: FakeAdapter,
    mailer: str,
    action: str,
    args: object,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        MailDeliveryJob.perform_now(mailer, action, args)
    fake_jobs.assert_nothing_enqueued()


def test_mailers_are_found_by_name() -> None:
    assert mailer_named("ReportMailer") is ReportMailer
    with pytest.raises(UnknownMailAction, match="no mailer is named 'Nope'"):
        mailer_named("Nope")


def test_an_action_called_with_the_wrong_arguments_fails_at_the_call() -> None:
    with pytest.raises(TypeError):
        UserMailer.welcome()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        UserMailer.welcome(1, 2)  # type: ignore[call-arg]
