"""Report records: creating, loading, listing and moving them through their states.

Every function opens its own short transaction and returns a `ReportRecord`, a frozen
snapshot, so callers never hold ORM objects across transactions or processes.

Life of a report::

    pending --mark_processing--> processing --mark_done--> done
                                           \\--mark_failed--> failed

`mark_processing` is allowed from any state, because a job may run again after a crash
or a manual retry; it counts the attempt. Independently of the status, a report whose
job could not be enqueued carries `enqueue_failed` until `mark_enqueued` clears it.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db.engine import SessionFactory, read_session, write_session
from shop.errors import ReportNotFound
from shop.models import Report, ReportStatus, utcnow
from shop.reports.kinds import ReportKind
from shop.reports.request import ReportRequest

MAX_ERROR_LENGTH = 4_000
# Longer than any enqueue takes: a pending report without a job id older than this
# was lost between the web tier's commit and its enqueue.
DEFAULT_ENQUEUE_GRACE = timedelta(minutes=5)
_REPORT_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class ReportRecord:
    """A report as stored, at the moment it was read.

    Attributes:
        id: 32 lowercase hex digits; random, so links to reports cannot be guessed.
        kind: The kind as stored (a retired kind stays readable here).
        parameters: The stored JSON parameters, normally `{"from": ..., "to": ...}`;
            kept as stored even when malformed, so a build can say what is wrong.
        status: pending, processing, done or failed.
        error: Why the report failed, when it did.
        result_location: Directory of the built files, relative to the results dir.
        notify_email: Who gets the completion mail; None means the admin.
        job_id: Id of the job enqueued to build it, once enqueued.
        enqueue_failed: The job could not be enqueued and should be enqueued again.
        enqueue_error: Why enqueuing failed.
        attempts: How many times a build started.
        created_at: When the report was requested.
        started_at: When the latest build started.
        finished_at: When the latest build ended (done or failed).
    """

    id: str
    kind: str
    parameters: Any
    status: ReportStatus
    error: str | None
    result_location: str | None
    notify_email: str | None
    job_id: str | None
    enqueue_failed: bool
    enqueue_error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def kind_title(self) -> str:
        """Readable name of the kind, or the raw kind if it is no longer supported."""
        try:
            return ReportKind(self.kind).display_name
        except ValueError:
            return self.kind

    @property
    def date_from(self) -> str:
        """The first day as stored (YYYY-MM-DD), or "" if missing."""
        return self._parameter("from")

    @property
    def date_to(self) -> str:
        """The last day as stored (YYYY-MM-DD), or "" if missing."""
        return self._parameter("to")

    def _parameter(self, name: str) -> str:
        if isinstance(self.parameters, dict):
            return str(self.parameters.get(name, ""))
        return ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view for APIs and logs."""
        return {
            "id": self.id,
            "kind": self.kind,
            "parameters": copy.deepcopy(self.parameters),
            "status": self.status.value,
            "error": self.error,
            "job_id": self.job_id,
            "enqueue_failed": self.enqueue_failed,
            "enqueue_error": self.enqueue_error,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def create_report(session_factory: SessionFactory, request: ReportRequest) -> ReportRecord:
    """Store a new pending report for a validated request."""
    with write_session(session_factory) as session:
        row = add_report(session, request)
    return _snapshot(row)


def add_report(session: Session, request: ReportRequest) -> Report:
    """Add a new pending report to `session`'s transaction (the caller commits)."""
    row = Report(
        id=uuid.uuid4().hex,
        kind=request.kind.value,
        parameters=request.parameters(),
        status=ReportStatus.PENDING.value,
        notify_email=request.notify_email,
        enqueue_failed=False,
        attempts=0,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def snapshot(row: Report) -> ReportRecord:
    """The record of a report row (committed, or about to be)."""
    return _snapshot(row)


def load_report(session_factory: SessionFactory, report_id: object) -> ReportRecord:
    """Read one report.

    Args:
        session_factory: Where the report lives.
        report_id: The id; untrusted values are fine (anything malformed is not found).

    Raises:
        ReportNotFound: No report has this id.
    """
    key = _checked_id(report_id)
    with read_session(session_factory) as session:
        row = session.get(Report, key)
        if row is None:
            raise ReportNotFound(key)
        return _snapshot(row)


def list_reports(
    session_factory: SessionFactory, *, limit: int = 50, offset: int = 0
) -> list[ReportRecord]:
    """The most recently requested reports first."""
    query = select(Report).order_by(Report.created_at.desc(), Report.id).limit(limit).offset(offset)
    with read_session(session_factory) as session:
        return [_snapshot(row) for row in session.scalars(query)]


def reports_awaiting_enqueue(
    session_factory: SessionFactory,
    *,
    limit: int = 100,
    unenqueued_after: timedelta = DEFAULT_ENQUEUE_GRACE,
) -> list[ReportRecord]:
    """Pending reports that need their job enqueued (again), oldest first.

    Those flagged by `mark_enqueue_failed`, and those that never got a job id within
    `unenqueued_after` of being created: the process that created them died between
    its commit and the enqueue, so nobody could flag them.
    """
    cutoff = utcnow() - unenqueued_after
    query = (
        select(Report)
        .where(
            Report.status == ReportStatus.PENDING.value,
            Report.enqueue_failed.is_(True)
            | (Report.job_id.is_(None) & (Report.created_at < cutoff)),
        )
        .order_by(Report.created_at, Report.id)
        .limit(limit)
    )
    with read_session(session_factory) as session:
        return [_snapshot(row) for row in session.scalars(query)]


def mark_enqueued(session_factory: SessionFactory, report_id: object, job_id: str) -> ReportRecord:
    """Record the id of the job that will build the report and clear any enqueue failure.

    Raises:
        ReportNotFound: No report has this id.
    """
    return _update(
        session_factory, report_id, job_id=job_id, enqueue_failed=False, enqueue_error=None
    )


def mark_enqueue_failed(
    session_factory: SessionFactory, report_id: object, error: str
) -> ReportRecord:
    """Flag that the report's job could not be enqueued, so it can be enqueued again.

    Raises:
        ReportNotFound: No report has this id.
    """
    return _update(session_factory, report_id, enqueue_failed=True, enqueue_error=_clip(error))


def mark_processing(session_factory: SessionFactory, report_id: object) -> ReportRecord:
    """Record that a build started: status processing, one more attempt, error cleared.

    Raises:
        ReportNotFound: No report has this id.
    """

    def start(row: Report) -> None:
        row.status = ReportStatus.PROCESSING.value
        row.started_at = utcnow()
        row.finished_at = None
        row.error = None
        row.attempts += 1

    return _update(session_factory, report_id, change=start)


def mark_done(
    session_factory: SessionFactory, report_id: object, result_location: str
) -> ReportRecord:
    """Record a successful build and where its files are.

    Raises:
        ReportNotFound: No report has this id.
    """
    return _update(
        session_factory,
        report_id,
        status=ReportStatus.DONE.value,
        result_location=result_location,
        error=None,
        finished_at=utcnow(),
    )


def mark_failed(session_factory: SessionFactory, report_id: object, error: str) -> ReportRecord:
    """Record a failed build with its error text (clipped to `MAX_ERROR_LENGTH`).

    Raises:
        ReportNotFound: No report has this id.
    """
    return _update(
        session_factory,
        report_id,
        status=ReportStatus.FAILED.value,
        error=_clip(error),
        finished_at=utcnow(),
    )


def delete_report(session_factory: SessionFactory, report_id: object) -> None:
    """Delete a report record (its files, if any, stay until removed separately).

    Raises:
        ReportNotFound: No report has this id.
    """
    key = _checked_id(report_id)
    with write_session(session_factory) as session:
        row = session.get(Report, key)
        if row is None:
            raise ReportNotFound(key)
        session.delete(row)


def _update(
    session_factory: SessionFactory,
    report_id: object,
    change: Callable[[Report], None] | None = None,
    **values: Any,
) -> ReportRecord:
    key = _checked_id(report_id)
    with write_session(session_factory) as session:
        row = session.get(Report, key, with_for_update=True)
        if row is None:
            raise ReportNotFound(key)
        for name, value in values.items():
            setattr(row, name, value)
        if change is not None:
            change(row)
    return _snapshot(row)


def _checked_id(report_id: object) -> str:
    if isinstance(report_id, str) and _REPORT_ID.fullmatch(report_id):
        return report_id
    raise ReportNotFound(str(report_id)[:64])


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def _snapshot(row: Report) -> ReportRecord:
    return ReportRecord(
        id=row.id,
        kind=row.kind,
        parameters=copy.deepcopy(row.parameters),
        status=ReportStatus(row.status),
        error=row.error,
        result_location=row.result_location,
        notify_email=row.notify_email,
        job_id=row.job_id,
        enqueue_failed=row.enqueue_failed,
        enqueue_error=row.enqueue_error,
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
