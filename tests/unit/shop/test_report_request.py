"""Report request validation: every bad input gets an error naming its field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shop.errors import InvalidReportRequest, ReportDefinitionError
from shop.reports import MAX_RANGE_DAYS, ReportKind, ReportRequest, validate_report_request
from shop.reports.request import request_from_record


def test_a_valid_request_becomes_a_typed_request() -> None:
    request = validate_report_request(
        {
            "kind": "sales_by_product",
            "from": "2024-01-01",
            "to": "2024-01-31",
            "email": "Ana@Example.org",
        }
    )
    assert request == ReportRequest(
        kind=ReportKind.SALES_BY_PRODUCT,
        start=date(2024, 1, 1),
        end=date(2024, 1, 31),
        notify_email="Ana@example.org",
    )
    assert request.days == 31
    assert request.parameters() == {"from": "2024-01-01", "to": "2024-01-31"}


def test_a_single_day_and_the_longest_range_are_allowed() -> None:
    assert (
        validate_report_request(
            {"kind": "sales_by_day", "from": "2024-03-03", "to": "2024-03-03"}
        ).days
        == 1
    )
    longest = validate_report_request(
        {"kind": "sales_by_day", "from": "2023-01-01", "to": "2024-12-31"}
    )
    assert longest.days == MAX_RANGE_DAYS


@pytest.mark.parametrize("email", [None, ""])
def test_an_empty_email_means_nobody_in_particular(email: str | None) -> None:
    request = validate_report_request(
        {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-02", "email": email}
    )
    assert request.notify_email is None


RANGE = {"from": "2024-01-01", "to": "2024-01-02"}
BAD_INPUTS: list[tuple[dict[str, Any], str, str]] = [
    ({"from": "2024-01-01", "to": "2024-01-02"}, "kind", "is required"),
    ({"kind": "sales_by_day", "to": "2024-01-02"}, "from", "is required"),
    ({"kind": "sales_by_day", "from": "2024-01-01"}, "to", "is required"),
    ({"kind": "sales_by_weather", **RANGE}, "kind", "unknown kind"),
    ({"kind": ["sales_by_day"], **RANGE}, "kind", "unknown kind"),
    ({"kind": "sales_by_day", "from": "01/02/2024", "to": "2024-01-02"}, "from", "YYYY-MM-DD"),
    ({"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-02-30"}, "to", "calendar date"),
    ({"kind": "sales_by_day", "from": "2024-01-05", "to": "2024-01-04"}, "to", "before from"),
    ({"kind": "sales_by_day", "from": "2020-01-01", "to": "2024-01-01"}, "to", "the limit is 731"),
    ({"kind": "sales_by_day", **RANGE, "email": "nope"}, "email", "look like"),
    ({"kind": "sales_by_day", **RANGE, "format": "pdf"}, "format", "not a known field"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_INPUTS)
def test_each_bad_input_names_its_field(data: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidReportRequest) as caught:
        validate_report_request(data)
    [problem] = caught.value.problems
    assert problem.field == field
    assert message in problem.message
    assert field in str(caught.value)


@pytest.mark.parametrize("data", [None, "kind=sales_by_day", ["sales_by_day"], 42])
def test_input_that_is_not_an_object_is_refused(data: object) -> None:
    with pytest.raises(InvalidReportRequest, match="expected an object"):
        validate_report_request(data)


def test_all_problems_are_reported_together_in_a_json_ready_shape() -> None:
    with pytest.raises(InvalidReportRequest) as caught:
        validate_report_request({"kind": "nope", "from": "bad"})
    body = caught.value.as_dict()
    problems = body["problems"]
    assert isinstance(problems, list)
    assert [p["field"] for p in problems] == ["to", "kind", "from"]
    assert isinstance(body["error"], str)
    assert isinstance(caught.value, ValueError)


def test_the_range_limit_can_be_tightened() -> None:
    data = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-08"}
    with pytest.raises(InvalidReportRequest, match="the limit is 7"):
        validate_report_request(data, max_days=7)


def test_stored_definitions_are_rebuilt_or_fail_as_definition_errors() -> None:
    rebuilt = request_from_record(
        "sales_by_day", {"from": "2024-01-01", "to": "2024-01-02"}, "a@b.org"
    )
    assert rebuilt.notify_email == "a@b.org"
    with pytest.raises(ReportDefinitionError, match="unknown kind"):
        request_from_record("retired_kind", {"from": "2024-01-01", "to": "2024-01-02"})
    with pytest.raises(ReportDefinitionError, match="must be an object"):
        request_from_record("sales_by_day", "2024-01-01..2024-01-02")
