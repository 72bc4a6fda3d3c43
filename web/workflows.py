"""What the API and the pages do on a request, in one place for both.

The pattern is the same every time: validate the untrusted input, commit the record,
and only then enqueue the job, so a worker never looks for a row that is not committed
yet. When Redis refuses the job, the record is left in a state from which it can be
enqueued again (a report) or is removed so the person can simply retry (a signup).
"""

from __future__ import annotations

import logging

from shop.accounts import UserRecord, create_user, delete_user
from shop.db import SessionFactory
from shop.jobs import SignupJobs, enqueue_report_build, start_signup_workflow
from shop.models import ReportStatus
from shop.reports import ReportRecord, create_report, load_report, validate_report_request
from sidequest.errors import EnqueueError

logger = logging.getLogger(__name__)


class ReportNotEnqueued(Exception):
    """The report was stored but its job could not be enqueued; it is marked so."""

    def __init__(self, report: ReportRecord, cause: EnqueueError) -> None:
        self.report = report
        self.cause = cause
        super().__init__(f"report {report.id} was saved but not enqueued: {cause}")


class ReportNotEnqueueable(Exception):
    """The report is in a state where enqueuing its job again makes no sense."""

    def __init__(self, report: ReportRecord, reason: str) -> None:
        self.report = report
        super().__init__(reason)


class SignupNotEnqueued(Exception):
    """The signup's jobs could not be enqueued; the new user was removed again."""


def request_report(session_factory: SessionFactory, data: object) -> ReportRecord:
    """Validate a report request, store the report and enqueue its job.

    Raises:
        InvalidReportRequest: The request is malformed; nothing is stored.
        ReportNotEnqueued: Stored, but Redis refused the job (marked enqueue-failed).
    """
    report = create_report(session_factory, validate_report_request(data))
    return _enqueue(session_factory, report)


def enqueue_again(session_factory: SessionFactory, report_id: str) -> ReportRecord:
    """Enqueue the job of a stored report again (after an enqueue failure, say).

    Pending and failed reports qualify; a second job for a report is harmless, since
    the job does not rebuild a done report or mail twice.

    Raises:
        ReportNotFound: No report has this id.
        ReportNotEnqueueable: The report is done or being built right now.
        ReportNotEnqueued: Redis refused the job again.
    """
    report = load_report(session_factory, report_id)
    if report.status is ReportStatus.DONE:
        raise ReportNotEnqueueable(report, f"report {report.id} is done already")
    if report.status is ReportStatus.PROCESSING:
        raise ReportNotEnqueueable(report, f"report {report.id} is being built right now")
    return _enqueue(session_factory, report)


def _enqueue(session_factory: SessionFactory, report: ReportRecord) -> ReportRecord:
    try:
        return enqueue_report_build(session_factory, report.id)
    except EnqueueError as error:
        logger.error("report %s saved but not enqueued: %s", report.id, error)
        raise ReportNotEnqueued(load_report(session_factory, report.id), error) from error


def sign_up(session_factory: SessionFactory, data: object) -> tuple[UserRecord, SignupJobs]:
    """Create a user from signup input and enqueue the signup workflow.

    Raises:
        InvalidSignup: The input is malformed; nothing is stored.
        DuplicateEmail: The address is taken.
        SignupNotEnqueued: Redis refused a job; the user was deleted again, so the same
            signup can be sent again. Jobs enqueued before the refusal find no user and
            are discarded.
    """
    user = create_user(session_factory, data)
    try:
        jobs = start_signup_workflow(user.id)
    except EnqueueError as error:
        logger.error("signup of user %s not enqueued, undoing it: %s", user.id, error)
        delete_user(session_factory, user.id)
        raise SignupNotEnqueued(str(error)) from error
    return user, jobs
