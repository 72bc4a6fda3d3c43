"""How periodic jobs reach the product, without Redis: the config file's `:periodic:`,
`sidequest.periodic()`, what a worker publishes, `self.periodic_at`, the scheduler's
firing with its backoff, and the middleware hooks (Prometheus among them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

import sidequest
from sidequest import Job
from sidequest.config import build_settings
from sidequest.errors import ConfigError
from sidequest.metrics.prometheus import JobMetricSet, PrometheusMiddleware
from sidequest.middleware import Middleware, MiddlewareChain
from sidequest.periodic_jobs import declared
from sidequest.periodic_jobs.ticker import Enqueued, FireReport, PeriodicTicker
from sidequest.runtime import periodic
from sidequest.runtime.periodic import PeriodicFiring

CONFIG = """\
:concurrency: 2
:periodic:
  :nightly_report:
    cron: "30 2 * * *"
    tz: Europe/Berlin
    class: WiredReportJob
    args: [7]
"""


class WiredReportJob(Job):
    queue = "reports"
    retry = 3

    def perform(self, days: int) -> None: ...


@pytest.fixture(autouse=True)
def no_declarations() -> Iterator[None]:
    declared.clear()
    yield
    declared.clear()


def settings_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "sidequest.yml"
    path.write_text(text)
    return build_settings(config_file=path, environ={})


class TestConfigFile:
    def test_the_periodic_section_becomes_schedules(self, tmp_path: Path) -> None:
        (schedule,) = settings_of(tmp_path, CONFIG).periodic
        assert (schedule.name, schedule.cron, schedule.tz) == (
            "nightly_report",
            "30 2 * * *",
            "Europe/Berlin",
        )
        assert (schedule.job_class, schedule.args) == ("WiredReportJob", (7,))

    def test_no_key_is_none_and_an_empty_one_is_no_schedules(self, tmp_path: Path) -> None:
        assert settings_of(tmp_path, ":concurrency: 2\n").periodic is None
        assert settings_of(tmp_path, ":periodic: {}\n").periodic == ()
        assert settings_of(tmp_path, ":periodic:\n").periodic == ()

    def test_a_bad_entry_is_a_config_error_naming_it(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="periodic schedule 'x': every"):
            settings_of(tmp_path, ":periodic:\n  x: {every: 0, class: A}\n")
        with pytest.raises(ConfigError, match="periodic: must map schedule names"):
            settings_of(tmp_path, ":periodic: [a, b]\n")


class TestWhatAWorkerPublishes:
    def test_nothing_when_neither_the_file_nor_the_code_declares_schedules(self) -> None:
        assert periodic.wanted(None) is None

    def test_an_empty_section_publishes_the_empty_set(self) -> None:
        assert periodic.wanted(()) == []

    def test_the_file_and_the_code_together_resolved_against_the_classes(
        self, tmp_path: Path
    ) -> None:
        sidequest.periodic("in_code", WiredReportJob, every=60, args=[1], queue="urgent")
        schedules = periodic.wanted(settings_of(tmp_path, CONFIG).periodic)
        assert schedules is not None
        by_name = {schedule.name: schedule for schedule in schedules}
        assert sorted(by_name) == ["in_code", "nightly_report"]
        assert (by_name["nightly_report"].queue, by_name["nightly_report"].retry) == ("reports", 3)
        assert (by_name["in_code"].queue, by_name["in_code"].retry) == ("urgent", 3)

    def test_code_alone_is_published(self) -> None:
        sidequest.periodic("in_code", "Ruby::Job", cron="@hourly")
        (schedule,) = periodic.wanted(None) or []
        assert (schedule.queue, schedule.retry) == ("default", True)

    def test_a_name_in_both_is_a_config_error(self, tmp_path: Path) -> None:
        sidequest.periodic("nightly_report", WiredReportJob, every=60, args=[1])
        with pytest.raises(ConfigError, match="'nightly_report' is in the config file and"):
            periodic.wanted(settings_of(tmp_path, CONFIG).periodic)

    def test_a_class_this_worker_does_not_know_is_warned_about(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        sidequest.periodic("typo", "WiredReprtJob", every=60)
        with caplog.at_level(logging.WARNING, logger="sidequest"):
            periodic.wanted(None)
        assert "no job class 'WiredReprtJob' is registered in this worker" in caplog.text


def test_sidequest_periodic_is_define() -> None:
    assert sidequest.periodic is declared.define


def test_periodic_at_is_the_payloads_tick() -> None:
    job = WiredReportJob.from_payload({"jid": "a" * 24, "periodic_at": 1_700_000_000}, [7])
    assert job.periodic_at == 1_700_000_000
    assert WiredReportJob(7).periodic_at is None
    assert WiredReportJob.from_payload({"periodic_at": "soon"}, [7]).periodic_at is None


class Recorder(Middleware):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def periodic_enqueued(self, name: str, tick: int, lateness: float, caught_up: bool) -> None:
        self.calls.append(("enqueued", name, tick, lateness, caught_up))

    def periodic_missed(self, name: str, count: int) -> None:
        self.calls.append(("missed", name, count))


class Broken(Middleware):
    def periodic_enqueued(self, name: str, tick: int, lateness: float, caught_up: bool) -> None:
        raise RuntimeError("a broken hook")


class StubTicker(PeriodicTicker):
    """A ticker whose fire() returns or raises what the test queues, with no store."""

    def __init__(self, *outcomes: FireReport | Exception):
        self.outcomes = list(outcomes)
        self.next_tick = 100.0

    def due(self, now: float) -> float:
        return self.next_tick

    def fire(self, now: float | None = None) -> FireReport:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def report() -> FireReport:
    return FireReport(
        enqueued=[
            Enqueued("tick", 95, "a" * 24, "default", 5.0, caught_up=True),
            Enqueued("tick", 100, "b" * 24, "default", 0.002, caught_up=False),
        ],
        missed={"tick": 3},
        dropped={"tick": 2},
    )


class TestPeriodicFiring:
    def test_a_report_reaches_every_middleware_and_a_broken_hook_is_contained(self) -> None:
        recorder = Recorder()
        firing = PeriodicFiring(StubTicker(report()), MiddlewareChain([Broken(), recorder]))
        assert firing.fire(100.002) is not None
        assert recorder.calls == [
            ("enqueued", "tick", 95, 5.0, True),
            ("enqueued", "tick", 100, 0.002, False),
            ("missed", "tick", 3),
        ]

    def test_a_redis_error_waits_a_backoff_and_the_next_success_clears_it(self) -> None:
        error = redis.ConnectionError("gone")
        ticker = StubTicker(error, error, report())
        firing = PeriodicFiring(ticker, MiddlewareChain())
        assert firing.due(100.0) == 100.0
        assert firing.fire(100.0) is None
        first_wait = firing.due(100.0) - 100.0
        assert 0.05 <= first_wait <= 0.15
        assert firing.fire(100.2) is None
        assert 0.1 <= firing.due(100.2) - 100.2 <= 0.3  # 0.2 s, spread by half
        assert firing.fire(101.0) is not None
        assert firing.due(101.0) == ticker.next_tick
        assert firing.backoff.failures == 0

    def test_any_other_error_is_logged_once_and_retried_every_two_seconds(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        bad = ValueError("could not convert string to float: 'x'")
        firing = PeriodicFiring(StubTicker(bad, bad, report()), MiddlewareChain())
        with caplog.at_level(logging.INFO, logger="sidequest"):
            assert firing.fire(100.0) is None
            assert firing.due(100.0) == 102.0
            assert firing.fire(102.0) is None
            assert firing.fire(104.0) is not None
        assert caplog.text.count("periodic ticker failed") == 1
        assert "periodic ticker works again" in caplog.text


def test_prometheus_observes_the_lateness_of_ticks_on_time_and_counts_missed_ones() -> None:
    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(JobMetricSet(registry))
    chain = MiddlewareChain([middleware])
    PeriodicFiring(StubTicker(report()), chain).fire(100.002)

    def value(metric: str, /, **labels: str) -> float | None:
        return registry.get_sample_value(metric, labels)

    assert value("sidequest_periodic_lateness_seconds_count") == 1
    assert value("sidequest_periodic_lateness_seconds_sum") == pytest.approx(0.002)
    assert value("sidequest_periodic_lateness_seconds_bucket", le="0.0025") == 1
    assert value("sidequest_periodic_missed_total", name="tick") == 3
