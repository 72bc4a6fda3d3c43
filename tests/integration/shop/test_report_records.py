"""Report records: creation, loading, the status life cycle and enqueue bookkeeping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop.db import SessionFactory, write_session
from shop.models import Report
from shop.reports import (
    ReportNotFound,
    ReportStatus,
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
    validate_report_request,
)

REQUEST = validate_report_request(
    {
        "kind": "sales_by_product",
        "from": "2024-03-01",
        "to": "2024-03-31",
        "email": "Ana@Example.COM",
    }
)


def test_a_new_report_is_pending_and_loads_back_equal(session_factory: SessionFactory) -> None:
    report = create_report(session_factory, REQUEST)

    assert report.status is ReportStatus.PENDING
    assert report.kind == "sales_by_product"
    assert report.parameters == {"from": "2024-03-01", "to": "2024-03-31"}
    assert report.notify_email == "Ana@example.com"
    assert report.attempts == 0
    assert report.created_at.tzinfo is not None
    assert len(report.id) == 32
    assert load_report(session_factory, report.id) == report


@pytest.mark.parametrize(
    "report_id", ["0" * 32, "not-an-id", "", None, 42, "A" * 32, "0" * 32 + "\n"]
)
def test_loading_a_missing_or_malformed_id_raises_report_not_found(
    session_factory: SessionFactory, report_id: object
) -> None:
    with pytest.raises(ReportNotFound):
        load_report(session_factory, report_id)


def test_the_life_cycle_records_timestamps_attempts_and_errors(
    session_factory: SessionFactory,
) -> None:
    report = create_report(session_factory, REQUEST)

    processing = mark_processing(session_factory, report.id)
    assert processing.status is ReportStatus.PROCESSING
    assert processing.started_at is not None
    assert processing.finished_at is None
    assert processing.attempts == 1

    failed = mark_failed(session_factory, report.id, "disk full")
    assert failed.status is ReportStatus.FAILED
    assert failed.error == "disk full"
    assert failed.finished_at is not None

    again = mark_processing(session_factory, report.id)
    assert again.attempts == 2
    assert again.error is None
    assert again.finished_at is None

    done = mark_done(session_factory, report.id, report.id)
    assert done.status is ReportStatus.DONE
    assert done.result_location == report.id
    assert done.finished_at is not None
    assert done.started_at is not None
    assert done.finished_at >= done.started_at
    assert load_report(session_factory, report.id) == done


def test_long_error_texts_are_clipped(session_factory: SessionFactory) -> None:
    report = create_report(session_factory, REQUEST)
    failed = mark_failed(session_factory, report.id, "x" * 10_000)
    assert failed.error is not None
    assert len(failed.error) == 4_000


@pytest.mark.parametrize(
    "change",
    [
        mark_processing,
        lambda factory, rid: mark_done(factory, rid, rid),
        lambda factory, rid: mark_failed(factory, rid, "boom"),
        lambda factory, rid: mark_enqueued(factory, rid, "abc"),
        lambda factory, rid: mark_enqueue_failed(factory, rid, "redis down"),
        delete_report,
    ],
)
def test_changing_a_missing_report_raises_report_not_found(
    session_factory: SessionFactory, change: object
) -> None:
    assert callable(change)
    with pytest.raises(ReportNotFound):
        change(session_factory, "f" * 32)


def test_a_report_whose_enqueue_failed_is_listed_until_enqueued(
    session_factory: SessionFactory,
) -> None:
    healthy = create_report(session_factory, REQUEST)
    mark_enqueued(session_factory, healthy.id, "jid-healthy")
    stranded = create_report(session_factory, REQUEST)

    flagged = mark_enqueue_failed(session_factory, stranded.id, "ConnectionError: redis is down")
    assert flagged.enqueue_failed
    assert flagged.enqueue_error == "ConnectionError: redis is down"
    assert flagged.status is ReportStatus.PENDING
    assert [r.id for r in reports_awaiting_enqueue(session_factory)] == [stranded.id]

    retried = mark_enqueued(session_factory, stranded.id, "jid-second-try")
    assert not retried.enqueue_failed
    assert retried.enqueue_error is None
    assert retried.job_id == "jid-second-try"
    assert reports_awaiting_enqueue(session_factory) == []


def test_a_report_left_without_a_job_id_is_listed_after_the_grace_period(
    session_factory: SessionFactory,
) -> None:
    orphan = create_report(session_factory, REQUEST)
    enqueued = create_report(session_factory, REQUEST)
    mark_enqueued(session_factory, enqueued.id, "jid-1")
    started = create_report(session_factory, REQUEST)
    mark_processing(session_factory, started.id)

    assert reports_awaiting_enqueue(session_factory) == []
    listed = reports_awaiting_enqueue(session_factory, unenqueued_after=timedelta(0))
    assert [r.id for r in listed] == [orphan.id]


def test_reports_list_newest_first_and_deleted_reports_are_gone(
    session_factory: SessionFactory,
) -> None:
    created = [create_report(session_factory, REQUEST) for _ in range(3)]

    listed = list_reports(session_factory)
    assert [r.id for r in listed] == [r.id for r in reversed(created)]
    assert [r.id for r in list_reports(session_factory, limit=1, offset=1)] == [created[1].id]

    delete_report(session_factory, created[0].id)
    with pytest.raises(ReportNotFound):
        load_report(session_factory, created[0].id)
    assert len(list_reports(session_factory)) == 2


def test_a_record_with_a_retired_kind_still_loads(session_factory: SessionFactory) -> None:
    report = create_report(session_factory, REQUEST)
    with write_session(session_factory) as session:
        row = session.get(Report, report.id)
        assert row is not None
        row.kind = "sales_by_moon_phase"
    loaded = load_report(session_factory, report.id)
    assert loaded.kind == "sales_by_moon_phase"
    assert loaded.kind_title == "sales_by_moon_phase"
    assert loaded.as_dict()["kind"] == "sales_by_moon_phase"
