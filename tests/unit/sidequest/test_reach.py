"""reach.warnings: what `sidequest enqueue` says about a job no live worker would run."""

from __future__ import annotations

from sidequest.api.processes import Process
from sidequest.reach import warnings


def process(queues: list[str], classes: list[str] | None) -> Process:
    return Process(
        identity=f"host:{len(queues)}:abc",
        info={"queues": queues},
        busy=0,
        beat=0.0,
        quiet=False,
        rss_kb=0,
        rtt_us=0,
        concurrency=5,
        job_classes=None if classes is None else frozenset(classes),
    )


def test_a_job_a_live_worker_watches_and_knows_gets_no_warning() -> None:
    workers = [process(["default", "mailers"], ["ReportJob", "app.jobs.ReportJob"])]
    assert warnings(workers, "ReportJob", "default") == []
    assert warnings(workers, "app.jobs.ReportJob", "mailers") == []


def test_no_live_process_at_all_is_one_warning() -> None:
    [warning] = warnings([], "ReportJob", "default")
    assert "no worker process is running" in warning and "'default'" in warning


def test_a_queue_no_live_process_watches_is_named_with_the_queues_they_watch() -> None:
    workers = [process(["default", "critical"], ["ReportJob"]), process(["mailers"], None)]

    [warning] = warnings(workers, "ReportJob", "critical:3")

    assert "no live worker process watches queue 'critical:3'" in warning
    assert "critical, default, mailers" in warning


def test_a_class_no_process_watching_the_queue_registered_is_named() -> None:
    workers = [process(["default"], ["ReportJob"]), process(["reports"], ["InvoiceJob"])]

    [warning] = warnings(workers, "InvoiceJob", "default")

    assert "watching queue 'default' has registered a job class named 'InvoiceJob'" in warning
    assert "UnknownJobError" in warning and "-r MODULE" in warning


def test_both_warnings_when_neither_the_queue_nor_the_class_is_known() -> None:
    workers = [process(["default"], ["ReportJob"])]

    queue_warning, class_warning = warnings(workers, "RepotJob", "reprots")

    assert "'reprots'" in queue_warning
    assert "no live worker process has registered a job class named 'RepotJob'" in class_warning


def test_a_process_that_does_not_list_its_classes_silences_the_class_warning() -> None:
    # Ruby's Sidekiq (or an older sidequest) may well know the class.
    workers = [process(["default"], ["ReportJob"]), process(["default"], None)]
    assert warnings(workers, "Billing::InvoiceJob", "default") == []
