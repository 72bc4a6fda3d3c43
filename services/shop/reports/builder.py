"""Building a report: aggregate in SQL, then write its CSV and HTML summary.

The files land in `<results_dir>/<report id>/` under fixed names and are written
atomically; their content depends only on the stored report and the orders, so a
build that runs twice (a retried job) writes the same bytes again, and a build that
crashes half-way leaves no partial file behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shop.db.engine import SessionFactory, read_session
from shop.errors import ReportNotReady
from shop.files import atomic_write_text
from shop.models import ReportStatus
from shop.reports.csv_output import render_csv
from shop.reports.html_output import render_summary
from shop.reports.queries import OnDay, SalesTable, run_report_query
from shop.reports.records import ReportRecord, load_report
from shop.reports.request import request_from_record

CSV_NAME = "report.csv"
HTML_NAME = "summary.html"


@dataclass(frozen=True)
class ReportFiles:
    """Where a report's files are.

    Attributes:
        location: The report's directory relative to the results directory; this is
            what `mark_done` stores as the result location.
        csv_path: The CSV file.
        html_path: The HTML summary.
    """

    location: str
    csv_path: Path
    html_path: Path


@dataclass(frozen=True)
class BuiltReport:
    """The outcome of a build: the files written and the data they hold."""

    files: ReportFiles
    table: SalesTable


def build_report(
    session_factory: SessionFactory,
    results_dir: Path,
    report_id: object,
    on_day: OnDay | None = None,
) -> BuiltReport:
    """Build the report's files from the orders currently in the database.

    `on_day(done, days, day)` is called after each day of the range was summed.

    Does not change the report's status: the caller marks it processing before and
    done (with `files.location`) or failed after.

    Raises:
        ReportNotFound: No report has this id.
        ReportDefinitionError: The stored kind or parameters cannot be built.
        sqlalchemy.exc.OperationalError: The database failed; worth a retry.
        OSError: The files could not be written.
    """
    report = load_report(session_factory, report_id)
    request = request_from_record(report.kind, report.parameters, report.notify_email)
    with read_session(session_factory) as session:
        table = run_report_query(session, request, on_day)
    files = files_for(results_dir, report.id)
    atomic_write_text(files.csv_path, render_csv(table))
    atomic_write_text(
        files.html_path,
        render_summary(
            table,
            report_id=report.id,
            date_from=request.start.isoformat(),
            date_to=request.end.isoformat(),
            requested_at=report.created_at,
            csv_name=CSV_NAME,
        ),
    )
    return BuiltReport(files=files, table=table)


def files_for(results_dir: Path, report_id: str) -> ReportFiles:
    """The file paths a report with this id is built into."""
    directory = results_dir / report_id
    return ReportFiles(
        location=report_id, csv_path=directory / CSV_NAME, html_path=directory / HTML_NAME
    )


def result_files(results_dir: Path, report: ReportRecord) -> ReportFiles:
    """The files of a finished report, for downloading.

    Raises:
        ReportNotReady: The report is not done, or its files are missing.
    """
    if report.status is not ReportStatus.DONE or report.result_location is None:
        raise ReportNotReady(f"report {report.id} is {report.status.value}, not done")
    directory = (results_dir / report.result_location).resolve()
    if directory.parent != results_dir.resolve():
        raise ReportNotReady(f"report {report.id} has an invalid result location")
    files = ReportFiles(report.result_location, directory / CSV_NAME, directory / HTML_NAME)
    if not files.csv_path.is_file() or not files.html_path.is_file():
        raise ReportNotReady(f"report {report.id} is done but its files are missing")
    return files
