"""What the API and the pages do on a request, in one place for both.

A new report or signup is stored together with its jobs: they go into sidequest's
outbox in the record's own transaction (`sidequest.outbox`), so a job never looks for
a row that is not committed, no committed record lacks its job, and a request succeeds
while Redis is down (the relay pushes the jobs once it is back). Enqueuing a stored
report again pushes to Redis directly; when Redis refuses, the report is left in a
state from which it can be enqueued again.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from shop.accounts import UserRecord, create_user
from shop.db import SessionFactory
from shop.jobs import (
    SignupJobs,
    create_report_and_enqueue,
    enqueue_report_build,
    start_signup_workflow,
)
from shop.models import ReportStatus
from shop.reports import ReportRecord, load_report, validate_report_request
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


def request_report(session_factory: SessionFactory, data: object) -> ReportRecord:
    """Validate a report request, store the report and enqueue its job (one transaction).

    Raises:
        InvalidReportRequest: The request is malformed; nothing is stored.
    """
    return create_report_and_enqueue(session_factory, validate_report_request(data))


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
    """Create a user from signup input and enqueue the signup workflow (one transaction).

    Raises:
        InvalidSignup: The input is malformed; nothing is stored.
        DuplicateEmail: The address is taken.
    """
    started: list[SignupJobs] = []

    def enqueue(session: Session, user_id: int) -> None:
        started.append(start_signup_workflow(user_id, outbox=session))

    user = create_user(session_factory, data, in_transaction=enqueue)
    return user, started[0]
