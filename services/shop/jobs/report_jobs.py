"""Building reports out of the request cycle: `ProcessReportJob` and how it is enqueued."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shop.db.engine import SessionFactory, write_session
from shop.errors import ReportDefinitionError, ReportNotFound, ReportNotReady
from shop.jobs.application_job import FILESYSTEM_ERRORS, TRANSIENT_ERRORS, ApplicationJob
from shop.jobs.mailers import ReportMailer
from shop.jobs.wiring import current
from shop.models import ReportStatus
from shop.reports.builder import build_report, result_files
from shop.reports.records import (
    ReportRecord,
    add_report,
    load_report,
    mark_done,
    mark_enqueue_failed,
    mark_enqueued,
    mark_failed,
    mark_processing,
    snapshot,
)
from shop.reports.request import ReportRequest
from sidequest import EnqueueError, discard_on, retry_on

logger = logging.getLogger("shop.jobs")

REPORTS_QUEUE = "reports"
REPORT_ATTEMPTS = 8


def record_definition_error(job: Any, error: BaseException) -> None:
    """Fail the report for good, with the reason its definition cannot be built."""
    _fail_report(job, str(error))


def record_exhausted_attempts(job: Any, error: BaseException) -> None:
    """Fail the report once every attempt hit a transient error, saying which."""
    _fail_report(job, f"gave up after {REPORT_ATTEMPTS} attempts: {type(error).__name__}: {error}")


def _fail_report(job: Any, reason: str) -> None:
    report_id = job.args[0] if job.args else None
    try:
        mark_failed(current().session_factory, report_id, reason)
    except ReportNotFound:
        logger.info("report %s was deleted; nothing to mark failed", report_id)


# Rules apply top first. A retried job that ran out of attempts marks its report failed
# (so nobody waits on it), and the report can be enqueued again once the cause is fixed.
@discard_on(ReportNotFound)
@discard_on(ReportDefinitionError, on_discard=record_definition_error)
@retry_on(
    *TRANSIENT_ERRORS,
    *FILESYSTEM_ERRORS,
    wait="polynomially_longer",
    attempts=REPORT_ATTEMPTS,
    on_exhausted=record_exhausted_attempts,
)
class ProcessReportJob(ApplicationJob):
    """Builds a stored report's files, marks it done and mails whoever asked for it.

    Running it again for the same report is harmless: a done report whose files exist
    is not rebuilt, and the completion mail goes through `deliver_once`, so it is sent
    once. It is still asked for on every run, because an earlier run may have died
    between marking the report done and enqueuing the mail.
    """

    queue = REPORTS_QUEUE
    timeout = timedelta(minutes=15)

    def perform(self, report_id: str) -> None:
        wiring = current()
        report = load_report(wiring.session_factory, report_id)
        if not _already_built(wiring.settings.results_dir, report):
            mark_processing(wiring.session_factory, report.id)
            built = build_report(
                wiring.session_factory,
                wiring.settings.results_dir,
                report.id,
                # Per day of the range: the report page's progress bar reads it.
                on_day=lambda done, days, day: self.progress(
                    done, days, f"{day.isoformat()} summed"
                ),
            )
            mark_done(wiring.session_factory, report.id, built.files.location)
        ReportMailer.completed(report.id).deliver_later()

    def day_summed(self, done: int, days: int, day: date) -> None:
        """Progress per day of the range (the report page's progress bar reads it)."""
        self.progress(done, days, f"{day.isoformat()} summed")


def _already_built(results_dir: Path, report: ReportRecord) -> bool:
    if report.status is not ReportStatus.DONE:
        return False
    try:
        result_files(results_dir, report)
    except ReportNotReady:
        return False
    return True


def create_report_and_enqueue(
    session_factory: SessionFactory, request: ReportRequest
) -> ReportRecord:
    """Store a new report and enqueue the job that builds it, in one transaction.

    The job goes into sidequest's outbox in the report's own transaction: both are
    committed or neither is, and Redis need not be up (the outbox relay pushes the job
    once it is). The report carries its job id from the start.
    """
    with write_session(session_factory) as session:
        row = add_report(session, request)
        session.flush()
        job = ProcessReportJob.set(outbox=session).perform_later(row.id)
        row.job_id = job.jid
    return snapshot(row)


def enqueue_report_build(session_factory: SessionFactory, report_id: str) -> ReportRecord:
    """Enqueue the job that builds a stored report, and record its job id.

    Call it after the report's transaction committed, so the job never looks for a
    report that is not there yet.

    Returns:
        The report with its job id.

    Raises:
        EnqueueError: Redis could not take the job; the report is marked enqueue-failed
            first, so it can be enqueued again later.
        ReportNotFound: No report has this id.
    """
    try:
        job = ProcessReportJob.perform_later(report_id)
    except EnqueueError as error:
        mark_enqueue_failed(session_factory, report_id, str(error))
        raise
    return mark_enqueued(session_factory, report_id, job.jid)
