"""ProcessReportJob against a real database, real files and a real SMTP server."""

from __future__ import annotations

import csv
import io
import time
import uuid
from dataclasses import replace

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from shop import jobs as shop_jobs
from shop.db import SessionFactory, write_session
from shop.jobs import JobWiring, MailDeliveryJob, ProcessReportJob, enqueue_report_build
from shop.models import Report, ReportStatus
from shop.reports import create_report, load_report, validate_report_request
from shop.reports.records import ReportRecord
from shop.settings import ShopSettings
from sidequest import progress, testing
from sidequest.job import rescue
from sidequest.testing import FakeAdapter
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpSink


def a_report(session_factory: SessionFactory, **fields: str) -> ReportRecord:
    body = {"kind": "sales_by_product", "from": "2024-03-01", "to": "2024-03-31", **fields}
    return create_report(session_factory, validate_report_request(body))


def csv_rows(wiring: JobWiring, report_id: str) -> list[list[str]]:
    path = wiring.settings.results_dir / report_id / "report.csv"
    return list(csv.reader(io.StringIO(path.read_text())))


def test_the_job_builds_the_report_and_asks_for_the_mail_on_the_mailers_queue(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory, email="ana@example.org")

    ProcessReportJob.perform_now(report.id)

    stored = load_report(wiring.session_factory, report.id)
    assert stored.status is ReportStatus.DONE
    assert stored.attempts == 1
    assert stored.result_location == report.id
    assert csv_rows(wiring, report.id)[0] == ["product", "orders", "units", "revenue"]
    [mail_job] = fake_jobs.assert_enqueued(MailDeliveryJob, queue="mailers", count=1)
    assert mail_job.args == ["ReportMailer", "completed", [report.id]]


def test_the_completion_mail_arrives_with_the_download_link(
    wiring: JobWiring, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    report = a_report(wiring.session_factory, email="ana@example.org")
    ProcessReportJob.perform_later(report.id)

    assert fake_jobs.drain() == 2

    [mail] = smtp_sink.wait_for_messages(1)
    assert mail.recipients == ("ana@example.org",)
    assert f"http://shop.test:8000/reports/{report.id}/download" in mail.data.decode()


def test_running_the_job_twice_builds_once_and_mails_once(
    wiring: JobWiring, fake_jobs: FakeAdapter, smtp_sink: SmtpSink
) -> None:
    report = a_report(wiring.session_factory)
    ProcessReportJob.perform_now(report.id)
    first_csv = csv_rows(wiring, report.id)

    ProcessReportJob.perform_now(report.id)
    fake_jobs.drain()

    stored = load_report(wiring.session_factory, report.id)
    assert stored.status is ReportStatus.DONE
    assert stored.attempts == 1, "a done report with its files is not rebuilt"
    assert csv_rows(wiring, report.id) == first_csv
    assert len(fake_jobs.jobs) == 0
    assert len(smtp_sink.messages) == 1
    assert smtp_sink.data_attempts == 1


def test_a_done_report_whose_files_vanished_is_built_again(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)
    ProcessReportJob.perform_now(report.id)
    (wiring.settings.results_dir / report.id / "report.csv").unlink()

    ProcessReportJob.perform_now(report.id)

    assert load_report(wiring.session_factory, report.id).attempts == 2
    assert csv_rows(wiring, report.id)[0][0] == "product"


def test_a_missing_report_is_discarded_without_retry(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    assert ProcessReportJob.perform_now(uuid.uuid4().hex) is None
    fake_jobs.assert_nothing_enqueued()


def test_a_bad_definition_fails_the_report_for_good_with_its_error(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)
    with write_session(wiring.session_factory) as session:
        session.execute(update(Report).where(Report.id == report.id).values(kind="sales_by_moon"))

    assert ProcessReportJob.perform_now(report.id) is None

    stored = load_report(wiring.session_factory, report.id)
    assert stored.status is ReportStatus.FAILED
    assert stored.error is not None
    assert "unknown kind 'sales_by_moon'" in stored.error
    fake_jobs.assert_nothing_enqueued()


def test_a_file_system_failure_is_retried_with_growing_waits_until_it_passes(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)
    results_dir = wiring.settings.results_dir
    results_dir.parent.mkdir(parents=True, exist_ok=True)
    results_dir.write_text("a file where the results directory belongs")
    before = time.time()

    ProcessReportJob.perform_now(report.id)

    [retry] = fake_jobs.assert_enqueued(ProcessReportJob, args=[report.id], queue="reports")
    assert retry.at is not None
    # polynomially_longer: 1**4 + 2 s (plus up to 15 % jitter of 1 s) after the first failure.
    assert before + 3 <= retry.at <= time.time() + 3.2
    assert load_report(wiring.session_factory, report.id).status is ReportStatus.PROCESSING

    results_dir.unlink()
    fake_jobs.drain()
    assert load_report(wiring.session_factory, report.id).status is ReportStatus.DONE


def test_a_report_still_failing_after_every_attempt_is_marked_failed(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)
    results_dir = wiring.settings.results_dir
    results_dir.parent.mkdir(parents=True, exist_ok=True)
    results_dir.write_text("in the way")

    ProcessReportJob.perform_later(report.id)
    assert fake_jobs.drain() == 8

    stored = load_report(wiring.session_factory, report.id)
    assert stored.status is ReportStatus.FAILED
    assert stored.error is not None
    assert stored.error.startswith("gave up after 8 attempts: ")
    assert stored.attempts == 8


def test_a_database_outage_is_retried(
    wiring: JobWiring, fake_jobs: FakeAdapter, settings: ShopSettings
) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/shop"
    shop_jobs.configure(replace(settings, database_url=unreachable))

    assert ProcessReportJob.perform_now(uuid.uuid4().hex) is None

    [retry] = fake_jobs.assert_enqueued(ProcessReportJob, queue="reports")
    assert retry.payload["exception_executions"] == {_transient_rule_key(): 1}


def test_enqueue_records_the_job_id_on_the_report(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)

    enqueued = enqueue_report_build(wiring.session_factory, report.id)

    [job] = fake_jobs.assert_enqueued(ProcessReportJob, args=[report.id], queue="reports")
    assert enqueued.job_id == job.jid
    assert load_report(wiring.session_factory, report.id).job_id == job.jid


def test_inline_jobs_build_the_report_and_send_the_mail_at_once(
    wiring: JobWiring, smtp_sink: SmtpSink
) -> None:
    report = a_report(wiring.session_factory)
    with testing.inline():
        ProcessReportJob.perform_later(report.id)
    assert load_report(wiring.session_factory, report.id).status is ReportStatus.DONE
    assert len(smtp_sink.messages) == 1


def _transient_rule_key() -> str:
    [rule] = [
        rule
        for rule in rescue.rules_of(ProcessReportJob)
        if isinstance(rule, rescue.RetryRule) and OperationalError in rule.exceptions
    ]
    return rule.key


class RecordedProgress:
    """A progress sink that keeps each update (the worker's writes them to Redis)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, progress.Update]] = []

    def write(self, jid: str, update: progress.Update) -> None:
        self.updates.append((jid, update))


def test_the_job_reports_its_progress_per_day_of_the_range(
    wiring: JobWiring, fake_jobs: FakeAdapter
) -> None:
    report = a_report(wiring.session_factory)  # March: 31 days
    sink = RecordedProgress()
    progress.install(progress.Throttle(sink, interval=0.0))
    try:
        ProcessReportJob.perform_now(report.id)
    finally:
        progress.install(None)

    assert [(update.done, update.total) for _, update in sink.updates] == [
        (day, 31.0) for day in range(1, 32)
    ]
    assert sink.updates[0][1].message == "2024-03-01 summed"
    assert sink.updates[-1][1].message == "2024-03-31 summed"
    assert len({jid for jid, _ in sink.updates}) == 1
