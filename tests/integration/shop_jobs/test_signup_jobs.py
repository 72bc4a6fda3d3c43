"""The signup workflow: three small jobs, each retrying on its own."""

from __future__ import annotations

import pytest

from shop.accounts import UserRecord, create_user, load_preferences
from shop.jobs import (
    JobWiring,
    NotifyAdminOfSignupJob,
    SendWelcomeEmailJob,
    SetupDefaultPreferencesJob,
    start_signup_workflow,
)
from sidequest.testing import FakeAdapter
from tests.support.smtp_server import SmtpSink


@pytest.fixture
def user(wiring: JobWiring) -> UserRecord:
    return create_user(wiring.session_factory, {"email": "bo@example.org", "name": "Bo"})


def test_the_workflow_enqueues_three_jobs_for_the_user(
    user: UserRecord, fake_jobs: FakeAdapter
) -> None:
    started = start_signup_workflow(user.id)

    [welcome] = fake_jobs.assert_enqueued(SendWelcomeEmailJob, args=[user.id], count=1)
    [preferences] = fake_jobs.assert_enqueued(SetupDefaultPreferencesJob, args=[user.id])
    [notice] = fake_jobs.assert_enqueued(NotifyAdminOfSignupJob, args=[user.id])
    assert (started.welcome, started.preferences, started.admin_notice) == (
        welcome.jid,
        preferences.jid,
        notice.jid,
    )


def test_running_the_workflow_mails_both_and_sets_up_preferences(
    wiring: JobWiring, user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    start_signup_workflow(user.id)
    assert fake_jobs.drain() == 3

    recipients = sorted(mail.recipients[0] for mail in smtp_sink.messages)
    assert recipients == ["admin@shop.test", "bo@example.org"]
    preferences = load_preferences(wiring.session_factory, user.id)
    assert preferences is not None
    assert preferences.report_emails is True


def test_a_second_welcome_job_for_the_same_user_is_refused_while_one_is_queued(
    user: UserRecord, fake_jobs: FakeAdapter
) -> None:
    start_signup_workflow(user.id)
    again = start_signup_workflow(user.id)

    assert again.welcome is None
    fake_jobs.assert_enqueued(SendWelcomeEmailJob, count=1)
    fake_jobs.assert_enqueued(SetupDefaultPreferencesJob, count=2)


def test_one_failing_mail_retries_alone_and_each_mail_is_sent_once(
    wiring: JobWiring, user: UserRecord, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("DATA", code=421, text="4.7.0 try later")
    start_signup_workflow(user.id)

    # The three jobs, then the one retry of the job that met the failure.
    assert fake_jobs.drain() == 4

    assert smtp_sink.data_attempts == 3
    recipients = sorted(mail.recipients[0] for mail in smtp_sink.messages)
    assert recipients == ["admin@shop.test", "bo@example.org"]


def test_jobs_for_a_deleted_user_do_nothing(
    wiring: JobWiring, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    start_signup_workflow(424242)
    assert fake_jobs.drain() == 3
    assert smtp_sink.data_attempts == 0


def test_preferences_set_up_twice_stay_one_row(wiring: JobWiring, user: UserRecord) -> None:
    SetupDefaultPreferencesJob.perform_now(user.id)
    SetupDefaultPreferencesJob.perform_now(user.id)
    assert load_preferences(wiring.session_factory, user.id) is not None
