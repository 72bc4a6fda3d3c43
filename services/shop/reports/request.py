"""Report requests: untrusted input in, a typed and checked request out.

The same checks run twice: when the web tier accepts a request (bad input becomes a
4xx answer) and when a worker builds a stored report (a definition that no longer
passes, say because a kind was retired, fails the report for good).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from shop.errors import InvalidReportRequest, Problem, ReportDefinitionError
from shop.reports.kinds import ReportKind
from shop.validation import normalize_email, parse_iso_date

T = TypeVar("T")

# Two years, leap day included: enough for year-on-year views, small enough that a
# by-day report stays a readable chart.
MAX_RANGE_DAYS = 731
REQUIRED_FIELDS = ("kind", "from", "to")
OPTIONAL_FIELDS = ("email",)


@dataclass(frozen=True)
class ReportRequest:
    """A valid request for a report over the inclusive date range [start, end].

    Attributes:
        kind: What to report.
        start: First day included.
        end: Last day included.
        notify_email: Who to mail when the report is done; None for the admin.
    """

    kind: ReportKind
    start: date
    end: date
    notify_email: str | None = None

    @property
    def days(self) -> int:
        """Number of days in the range."""
        return (self.end - self.start).days + 1

    def parameters(self) -> dict[str, str]:
        """The range as stored in the report record's JSON parameters."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def validate_report_request(data: object, *, max_days: int = MAX_RANGE_DAYS) -> ReportRequest:
    """Check untrusted input shaped like `{"kind", "from", "to"[, "email"]}`.

    Every problem found is reported at once, each naming its field.

    Args:
        data: Decoded JSON body or form fields.
        max_days: Longest range allowed, in days.

    Raises:
        InvalidReportRequest: The input is not a mapping, lacks a field, has an
            unknown field, an unknown kind, a malformed date, `to` before `from`, a
            range longer than `max_days` or a malformed e-mail.
    """
    if not isinstance(data, Mapping):
        raise InvalidReportRequest([Problem("", 'expected an object with "kind", "from" and "to"')])
    problems = [Problem(name, "is required") for name in REQUIRED_FIELDS if name not in data]
    problems += [
        Problem(str(name), "is not a known field")
        for name in data
        if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS
    ]
    kind = _field(problems, "kind", data, _parse_kind)
    start = _field(problems, "from", data, parse_iso_date)
    end = _field(problems, "to", data, parse_iso_date)
    email = data.get("email")
    notify_email = None
    if email not in (None, ""):
        notify_email = _field(problems, "email", data, normalize_email)
    if start is not None and end is not None:
        if end < start:
            problems.append(
                Problem("to", f"{end.isoformat()} is before from ({start.isoformat()})")
            )
        elif (end - start).days + 1 > max_days:
            problems.append(
                Problem(
                    "to", f"the range is {(end - start).days + 1} days; the limit is {max_days}"
                )
            )
    if problems or kind is None or start is None or end is None:
        raise InvalidReportRequest(problems)
    return ReportRequest(kind=kind, start=start, end=end, notify_email=notify_email)


def request_from_record(
    kind: str, parameters: object, notify_email: str | None = None
) -> ReportRequest:
    """Rebuild the request of a stored report for building it.

    Raises:
        ReportDefinitionError: The stored kind or parameters no longer validate.
    """
    data: dict[str, Any] = {"kind": kind}
    if isinstance(parameters, Mapping):
        data.update(parameters)
    else:
        raise ReportDefinitionError(
            f"parameters must be an object, got {type(parameters).__name__}"
        )
    try:
        request = validate_report_request(data)
    except InvalidReportRequest as error:
        raise ReportDefinitionError(f"report definition is invalid: {error}") from error
    return ReportRequest(request.kind, request.start, request.end, notify_email)


def _parse_kind(value: object) -> ReportKind:
    known = ", ".join(kind.value for kind in ReportKind)
    if isinstance(value, str):
        try:
            return ReportKind(value)
        except ValueError:
            pass
    raise ValueError(f"unknown kind {value!r} (known: {known})")


def _field(
    problems: list[Problem], name: str, data: Mapping[str, Any], parse: Callable[[object], T]
) -> T | None:
    if name not in data:
        return None
    try:
        return parse(data[name])
    except ValueError as error:
        problems.append(Problem(name, str(error)))
        return None
