"""Reports over the orders: requests, records, building and the files they produce.

The job that builds a report calls, in order::

    mark_processing(session_factory, report_id)
    built = build_report(session_factory, settings.results_dir, report_id)
    mark_done(session_factory, report_id, built.files.location)

and `mark_failed(session_factory, report_id, str(error))` on a `ReportDefinitionError`.
"""

from shop.errors import (
    InvalidReportRequest,
    ReportDefinitionError,
    ReportNotFound,
    ReportNotReady,
)
from shop.models import ReportStatus
from shop.reports.builder import (
    CSV_NAME,
    HTML_NAME,
    BuiltReport,
    ReportFiles,
    build_report,
    files_for,
    result_files,
)
from shop.reports.kinds import ReportKind
from shop.reports.queries import SalesRow, SalesTable
from shop.reports.records import (
    ReportRecord,
    create_report,
    delete_report,
    list_reports,
    load_report,
    mark_done,
    mark_enqueue_failed,
    mark_enqueued,
    mark_failed,
    mark_processing,
    reports_awaiting_enqueue,
)
from shop.reports.request import MAX_RANGE_DAYS, ReportRequest, validate_report_request

__all__ = [
    "CSV_NAME",
    "HTML_NAME",
    "MAX_RANGE_DAYS",
    "BuiltReport",
    "InvalidReportRequest",
    "ReportDefinitionError",
    "ReportFiles",
    "ReportKind",
    "ReportNotFound",
    "ReportNotReady",
    "ReportRecord",
    "ReportRequest",
    "ReportStatus",
    "SalesRow",
    "SalesTable",
    "build_report",
    "create_report",
    "delete_report",
    "files_for",
    "list_reports",
    "load_report",
    "mark_done",
    "mark_enqueue_failed",
    "mark_enqueued",
    "mark_failed",
    "mark_processing",
    "reports_awaiting_enqueue",
    "result_files",
    "validate_report_request",
]
