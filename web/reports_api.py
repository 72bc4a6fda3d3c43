"""The reports JSON API.

POST /api/reports                 {"kind", "from", "to"[, "email"]} -> 202
GET  /api/reports?ids=a,b&limit=N  recent reports, or the listed ones (for polling)
GET  /api/reports/<id>             one report's status, and its job's progress
POST /api/reports/<id>/enqueue     enqueue a pending or failed report's job again
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from redis import RedisError
from werkzeug.exceptions import BadRequest

from shop.errors import ReportNotFound
from shop.reports import ReportRecord, list_reports, load_report
from sidequest.api import Progress, progresses
from web.errors import error_response
from web.json_body import json_body
from web.services import services
from web.workflows import ReportNotEnqueueable, ReportNotEnqueued, enqueue_again, request_report

bp = Blueprint("reports_api", __name__, url_prefix="/api/reports")

MAX_IDS = 50
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_REPORT_ID = re.compile(r"[0-9a-f]{32}")


def report_links(report: ReportRecord) -> dict[str, str]:
    """Where to look at, download and re-enqueue a report."""
    return {
        "self": url_for("reports_api.show", report_id=report.id),
        "page": url_for("pages.report", report_id=report.id),
        "download": url_for("pages.download", report_id=report.id),
        "summary": url_for("pages.report_file", report_id=report.id, name="summary.html"),
        "enqueue": url_for("reports_api.enqueue", report_id=report.id),
    }


def report_json(report: ReportRecord, progress: Progress | None = None) -> dict[str, Any]:
    """A report as the API shows it: its fields, its job id as `jid`, its job's progress
    (None until the job reports some), and links."""
    return {
        **report.as_dict(),
        "jid": report.job_id,
        "progress": None if progress is None else progress.as_dict(),
        "links": report_links(report),
    }


def job_progress(reports: list[ReportRecord]) -> dict[str, Progress]:
    """The progress the reports' jobs reported (sidequest.api.progress), by job id.

    Redis being unreachable costs the progress, never the answer: the report's own
    state comes from the database.
    """
    jids = [report.job_id for report in reports if report.job_id]
    try:
        return progresses(jids, services().redis)
    except RedisError:
        return {}


def reports_json(reports: list[ReportRecord]) -> list[dict[str, Any]]:
    """Several reports as the API shows them, their progress read in one round trip."""
    found = job_progress(reports)
    return [report_json(report, found.get(report.job_id or "")) for report in reports]


@bp.post("")
def create() -> Response:
    """Store a report request and enqueue its build; 202 with the id and job id.

    The job is enqueued through the outbox, in the report's transaction: Redis being
    down does not fail the request (the job is pushed when Redis is back).
    """
    data = json_body()
    report = request_report(services().session_factory, data)
    response = jsonify(
        {
            "id": report.id,
            "status": report.status.value,
            "jid": report.job_id,
            "kind": report.kind,
            "parameters": report.parameters,
            "links": report_links(report),
        }
    )
    response.status_code = 202
    response.headers["Location"] = url_for("reports_api.show", report_id=report.id)
    return response


@bp.get("")
def index() -> Response:
    """Recent reports, or with `ids=` exactly those (missing ones listed as such)."""
    session_factory = services().session_factory
    if "ids" not in request.args:
        limit = _limit(request.args.get("limit"))
        reports = list_reports(session_factory, limit=limit)
        return jsonify({"reports": reports_json(reports)})
    found, missing = [], []
    for report_id in _ids(request.args["ids"]):
        try:
            found.append(load_report(session_factory, report_id))
        except ReportNotFound:
            missing.append(report_id)
    return jsonify({"reports": reports_json(found), "missing": missing})


@bp.get("/<report_id>")
def show(report_id: str) -> Response:
    """One report's status, error, timestamps, its job's progress and links."""
    [shown] = reports_json([load_report(services().session_factory, report_id)])
    return jsonify(shown)


@bp.post("/<report_id>/enqueue")
def enqueue(report_id: str) -> Response:
    """Enqueue a report's job again: 202, 409 when it is done or building, 503 on Redis."""
    try:
        report = enqueue_again(services().session_factory, report_id)
    except ReportNotEnqueued as failure:
        return _not_enqueued(failure)
    except ReportNotEnqueueable as refusal:
        return error_response(409, str(refusal), report=report_json(refusal.report))
    response = jsonify(report_json(report))
    response.status_code = 202
    return response


def _not_enqueued(failure: ReportNotEnqueued) -> Response:
    return error_response(
        503,
        "the job queue (Redis) is unavailable: the report was saved and marked "
        "enqueue-failed; enqueue it again with a POST to report.links.enqueue",
        report=report_json(failure.report),
    )


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a number from 1 to {MAX_LIMIT}")
    return int(text)


def _ids(text: str) -> list[str]:
    ids = [part for part in text.split(",") if part]
    if not ids or len(ids) > MAX_IDS:
        raise BadRequest(f"ids must list 1 to {MAX_IDS} report ids, separated by commas")
    malformed = [part for part in ids if not _REPORT_ID.fullmatch(part)]
    if malformed:
        raise BadRequest(f"not report ids: {', '.join(repr(m[:40]) for m in malformed[:5])}")
    return list(dict.fromkeys(ids))
