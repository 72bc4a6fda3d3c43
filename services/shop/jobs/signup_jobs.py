"""The signup workflow as small independent jobs, each failing and retrying on its own.

A signup stores the user (`shop.accounts.create_user`) and then calls
`start_signup_workflow(user_id)`, which enqueues:

- `SendWelcomeEmailJob`: the welcome mail to the user,
- `SetupDefaultPreferencesJob`: the user's default preferences,
- `NotifyAdminOfSignupJob`: a notice to the admin.

A failure of one (the SMTP server deferring the welcome mail, say) retries that job
alone; the others are done already. Each is idempotent, so a retry or a duplicate run
does not mail twice or create a second preferences row. A user deleted before a job
runs makes the job a no-op (discarded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from shop.accounts import setup_default_preferences
from shop.errors import PermanentMailError, UserNotFound
from shop.jobs.application_job import TRANSIENT_ERRORS, ApplicationJob
from shop.jobs.mailer import MAIL_ATTEMPTS
from shop.jobs.mailers import AdminMailer, UserMailer
from shop.jobs.wiring import current
from sidequest import discard_on, retry_on

SIGNUP_ATTEMPTS = 10


# A refused mail goes to the dead set at once: retrying would be refused again.
@retry_on(PermanentMailError, attempts=1)
@discard_on(UserNotFound)
@retry_on(*TRANSIENT_ERRORS, wait="polynomially_longer", attempts=MAIL_ATTEMPTS)
class SendWelcomeEmailJob(ApplicationJob):
    """Sends a new user the welcome mail.

    `unique_for` refuses a second job for the same user while one is enqueued or
    running, e.g. when a signup form is submitted twice in quick succession.
    """

    unique_for = timedelta(hours=1)

    def perform(self, user_id: int) -> None:
        UserMailer.welcome(user_id).deliver_now()


@discard_on(UserNotFound)
@retry_on(*TRANSIENT_ERRORS, wait="polynomially_longer", attempts=SIGNUP_ATTEMPTS)
class SetupDefaultPreferencesJob(ApplicationJob):
    """Gives a new user the default preferences (keeps them if they exist)."""

    def perform(self, user_id: int) -> None:
        setup_default_preferences(current().session_factory, user_id)


@retry_on(PermanentMailError, attempts=1)
@discard_on(UserNotFound)
@retry_on(*TRANSIENT_ERRORS, wait="polynomially_longer", attempts=MAIL_ATTEMPTS)
class NotifyAdminOfSignupJob(ApplicationJob):
    """Tells the admin that someone signed up."""

    def perform(self, user_id: int) -> None:
        AdminMailer.new_signup(user_id).deliver_now()


@dataclass(frozen=True)
class SignupJobs:
    """The job ids of one signup's workflow.

    Attributes:
        welcome: Job id of the welcome mail, or None when a job for this user held the
            unique lock already.
        preferences: Job id of the preferences set-up.
        admin_notice: Job id of the admin's notice.
    """

    welcome: str | None
    preferences: str
    admin_notice: str

    def as_dict(self) -> dict[str, str | None]:
        """JSON-ready view for APIs."""
        return {
            "welcome_email": self.welcome,
            "default_preferences": self.preferences,
            "admin_notification": self.admin_notice,
        }


def start_signup_workflow(user_id: int, *, outbox: Session | None = None) -> SignupJobs:
    """Enqueue the three signup jobs for a stored user.

    Args:
        outbox: The session whose transaction stores the user: the jobs then go into
            sidequest's outbox in that transaction (committed with the user, pushed by
            the relay, Redis up or not). Without it, they are pushed to Redis now.

    Raises:
        EnqueueError: Without `outbox`, Redis could not take a job. Jobs enqueued before
            it stay queued; if the caller deletes the user, they are discarded when they run.
    """
    welcome = SendWelcomeEmailJob.set(outbox=outbox).perform_later(user_id)
    preferences = SetupDefaultPreferencesJob.set(outbox=outbox).perform_later(user_id)
    notice = NotifyAdminOfSignupJob.set(outbox=outbox).perform_later(user_id)
    return SignupJobs(
        welcome=welcome.jid if welcome.successfully_enqueued else None,
        preferences=preferences.jid,
        admin_notice=notice.jid,
    )
