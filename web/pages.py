"""Server-rendered pages: request a report, watch reports, download results, sign up.

Forms post back to the pages (with a CSRF token) and redirect after success, so a
reload never submits twice. Report statuses refresh in place through
static/reports.js, which polls the JSON API; the pages work without it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from shop.errors import DuplicateEmail, InvalidInput, InvalidReportRequest, InvalidSignup
from shop.reports import (
    CSV_NAME,
    HTML_NAME,
    ReportKind,
    list_reports,
    load_report,
    result_files,
)
from web.security import check_csrf
from web.services import services
from web.workflows import (
    ReportNotEnqueueable,
    ReportNotEnqueued,
    enqueue_again,
    request_report,
    sign_up,
)

bp = Blueprint("pages", __name__)
bp.before_request(check_csrf)

REPORT_FIELDS = ("kind", "from", "to", "email")
SIGNUP_FIELDS = ("email", "name")
RECENT_REPORTS = 20
LISTED_REPORTS = 50
DEFAULT_RANGE_DAYS = 30
# The report's own HTML summary has an inline stylesheet and an inline SVG, no script.
SUMMARY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The report request form and the most recent reports."""
    today = datetime.now(UTC).date()
    values = {
        "kind": ReportKind.SALES_BY_DAY.value,
        "from": (today - timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat(),
        "to": today.isoformat(),
        "email": "",
    }
    return _index_page(values, {})


@bp.post("/reports")
def create_report() -> ResponseReturnValue:
    """Handle the report form: redirect to the new report, or show the form's problems."""
    data = {name: request.form[name] for name in REPORT_FIELDS if name in request.form}
    try:
        report = request_report(services().session_factory, data)
    except InvalidReportRequest as invalid:
        return _index_page({name: str(data.get(name, "")) for name in REPORT_FIELDS}, invalid, 422)
    flash("Report requested: it is being built in the background.", "info")
    return redirect(url_for(".report", report_id=report.id), 303)


@bp.get("/reports")
def reports() -> str:
    """The latest reports with their live status."""
    listed = list_reports(services().session_factory, limit=LISTED_REPORTS)
    return render_template("reports.html", reports=listed)


@bp.get("/reports/<report_id>")
def report(report_id: str) -> str:
    """One report: status, error, and its files once done."""
    found = load_report(services().session_factory, report_id)
    return render_template("report.html", report=found)


@bp.post("/reports/<report_id>/enqueue")
def enqueue(report_id: str) -> ResponseReturnValue:
    """Enqueue a report's job again (after the queue was unavailable, or it failed)."""
    try:
        enqueue_again(services().session_factory, report_id)
    except ReportNotEnqueued:
        flash("The job queue is still unavailable; try again in a moment.", "error")
    except ReportNotEnqueueable as refusal:
        flash(f"Not enqueued: {refusal}.", "error")
    else:
        flash("Enqueued again.", "info")
    return redirect(url_for(".report", report_id=report_id), 303)


@bp.get("/reports/<report_id>/download")
def download(report_id: str) -> Response:
    """The report's CSV as a download, once the report is done (409 before)."""
    wiring = services()
    found = load_report(wiring.session_factory, report_id)
    files = result_files(wiring.settings.shop.results_dir, found)
    return _file(files.csv_path, "text/csv", download_name=f"report-{found.id}.csv")


@bp.get("/reports/<report_id>/files/<name>")
def report_file(report_id: str, name: str) -> Response:
    """A done report's HTML summary or CSV, shown in the browser."""
    wiring = services()
    found = load_report(wiring.session_factory, report_id)
    files = result_files(wiring.settings.shop.results_dir, found)
    if name == HTML_NAME:
        response = _file(files.html_path, "text/html")
        response.headers["Content-Security-Policy"] = SUMMARY_POLICY
        return response
    if name == CSV_NAME:
        return _file(files.csv_path, "text/csv")
    raise NotFound(f"a report has no file named {name!r}; try {HTML_NAME} or {CSV_NAME}")


@bp.get("/signup")
def signup() -> str:
    """The signup form."""
    return render_template("signup.html", values={"email": "", "name": ""}, problems={})


@bp.post("/signup")
def create_signup() -> ResponseReturnValue:
    """Handle the signup form: a thank-you page, or the form with its problems."""
    data = {name: request.form[name] for name in SIGNUP_FIELDS if name in request.form}
    values = {name: str(data.get(name, "")) for name in SIGNUP_FIELDS}
    try:
        user, _jobs = sign_up(services().session_factory, data)
    except InvalidSignup as invalid:
        return _signup_page(values, _by_field(invalid), 422)
    except DuplicateEmail:
        problems = {"email": "is already signed up"}
        return _signup_page(values, problems, 409)
    return render_template("signed_up.html", user=user)


def _index_page(
    values: dict[str, str], invalid: InvalidInput | dict[str, str], status: int = 200
) -> ResponseReturnValue:
    problems = _by_field(invalid) if isinstance(invalid, InvalidInput) else invalid
    recent = list_reports(services().session_factory, limit=RECENT_REPORTS)
    page = render_template(
        "index.html", kinds=list(ReportKind), values=values, problems=problems, reports=recent
    )
    return page, status


def _signup_page(
    values: dict[str, str], problems: dict[str, str], status: int
) -> ResponseReturnValue:
    return render_template("signup.html", values=values, problems=problems), status


def _by_field(invalid: InvalidInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    for problem in invalid.problems:
        key = problem.field or "form"
        problems[key] = (
            f"{problems[key]}; {problem.message}" if key in problems else problem.message
        )
    return problems


def _file(path: Path, mimetype: str, *, download_name: str | None = None) -> Response:
    return send_file(
        path,
        mimetype=mimetype,
        as_attachment=download_name is not None,
        download_name=download_name,
        max_age=0,
    )
