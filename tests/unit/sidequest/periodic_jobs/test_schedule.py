"""Schedules from the config file and from code: validation, defaults, JSON, payloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sidequest import Job
from sidequest.errors import ConfigError
from sidequest.periodic_jobs import declared, payloads, resolution
from sidequest.periodic_jobs.missed import Missed
from sidequest.periodic_jobs.schedule import Schedule, parse, parse_section

CONFIG = """
:concurrency: 5
:periodic:
  nightly_report:
    cron: "30 2 * * *"
    tz: Europe/Berlin
    class: NightlyReportJob
    args: [7]
    queue: reports
    missed: one
  heartbeat:
    every: 30
    class: Heartbeat::PingJob
"""


class PeriodicReportJob(Job):
    queue = "reports"
    retry = 3

    def perform(self, days: int) -> None: ...


@pytest.fixture
def no_declarations() -> Iterator[None]:
    declared.clear()
    yield
    declared.clear()


def good(**changes: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"cron": "30 2 * * *", "class": "NightlyReportJob"}
    settings.update(changes)
    return {k: v for k, v in settings.items() if v is not None}


def error_of(name: str, settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(name, settings)
    return str(caught.value)


class TestConfigFile:
    def test_the_issue_example_parses_with_its_defaults(self) -> None:
        nightly, heartbeat = parse_section(yaml.safe_load(CONFIG)[":periodic"])
        assert nightly == Schedule(
            name="nightly_report",
            job_class="NightlyReportJob",
            cron="30 2 * * *",
            tz="Europe/Berlin",
            args=(7,),
            queue="reports",
            missed=Missed.ONE,
        )
        assert heartbeat.every == 30
        assert (heartbeat.tz, heartbeat.queue, heartbeat.args) == ("UTC", None, ())
        assert (heartbeat.missed, heartbeat.missed_limit) == (Missed.ONE, 10)
        assert heartbeat.job_class == "Heartbeat::PingJob"

    def test_keys_may_have_leading_colons_and_an_empty_section_holds_none(self) -> None:
        (schedule,) = parse_section({"x": {":every:": 5, ":class:": "A"}})
        assert schedule.every == 5
        assert parse_section(None) == ()
        assert parse_section({}) == ()

    def test_a_section_that_is_no_mapping_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="periodic: must map schedule names"):
            parse_section(["nightly_report"])


class TestValidationNamesTheScheduleAndTheField:
    @pytest.mark.parametrize(
        ("settings", "field", "words"),
        [
            (good(every=30), "cron/every", "exactly one of"),
            ({"class": "A"}, "cron/every", "exactly one of"),
            (good(cron="61 * * * *"), "cron", "bad minute"),
            (good(cron="0 0 * * * *"), "cron", "five fields"),
            (good(cron="0 0 30 2 *"), "cron", "bad day-of-month"),
            (good(cron=5), "cron", "must be a string"),
            (good(cron=None, every=0), "every", "at least 1"),
            (good(cron=None, every="30"), "every", "whole number of seconds"),
            (good(cron=None, every=True), "every", "whole number of seconds"),
            (good(tz="Mars/Olympus"), "tz", "unknown time zone 'Mars/Olympus'"),
            (good(tz="../../etc/passwd"), "tz", "unknown time zone"),
            (good(cron=None, every=60, tz="Europe/Berlin"), "tz", "applies to `cron` only"),
            (good(**{"class": None}), "class", "must name a job class"),
            (good(**{"class": "Nightly Report"}), "class", "must name a job class"),
            (good(args=7), "args", "must be a list"),
            (good(args=[{1, 2}]), "args", "not JSON-native"),
            (good(queue="my queue"), "queue", "without spaces"),
            (good(missed="sometimes"), "missed", "skip, one or all"),
            (good(missed_limit=0), "missed_limit", "from 1 to 1000"),
            (good(missed_limit=5000), "missed_limit", "from 1 to 1000"),
        ],
    )
    def test_a_bad_setting(self, settings: dict[str, Any], field: str, words: str) -> None:
        message = error_of("nightly_report", settings)
        assert message.startswith(f"periodic schedule 'nightly_report': {field}: ")
        assert words in message

    def test_an_unknown_setting_is_named_with_the_known_ones(self) -> None:
        message = error_of("nightly_report", good(crn="* * * * *"))
        assert "unknown setting 'crn'" in message
        assert "cron, every, tz, class" in message

    @pytest.mark.parametrize("name", ["", "nightly report", "x" * 101, "-x"])
    def test_a_name_unfit_for_a_redis_key_is_refused(self, name: str) -> None:
        assert "a name is 1-100 letters" in error_of(name, good())

    def test_settings_that_are_no_mapping(self) -> None:
        assert "must be a mapping" in error_of("n", ["30 2 * * *"])

    def test_missed_is_read_case_insensitively(self) -> None:
        assert parse("n", good(missed="ALL")).missed is Missed.ALL


class TestDefinitionsInRedis:
    def test_json_round_trips_and_is_canonical(self) -> None:
        schedule = parse("n", good(args=[1, {"b": 2, "a": "ü"}], queue="q")).resolved(
            queue="ignored", retry=5
        )
        text = schedule.to_json()
        assert Schedule.from_json(text) == schedule
        assert Schedule.from_json(text).to_json() == text
        assert '"class":"NightlyReportJob"' in text
        assert "ü" in text

    def test_a_definition_that_is_not_one_is_a_config_error(self) -> None:
        for text in ("not json", "[]", '{"cron": "* * * * *"}', '{"name": "n"}'):
            with pytest.raises(ConfigError):
                Schedule.from_json(text)

    def test_timing_key_changes_only_with_the_ticks(self) -> None:
        base = parse("n", good())
        assert parse("n", good(args=[1], queue="q")).timing_key == base.timing_key
        assert parse("n", good(tz="Europe/Berlin")).timing_key != base.timing_key


class TestDefaultsFromTheJobClass:
    def test_a_registered_class_gives_its_queue_and_retry(self) -> None:
        schedule = resolution.resolve(parse("n", good(**{"class": "PeriodicReportJob"})))
        assert (schedule.queue, schedule.retry) == ("reports", 3)

    def test_an_explicit_queue_wins(self) -> None:
        schedule = resolution.resolve(
            parse("n", good(**{"class": "PeriodicReportJob"}, queue="urgent"))
        )
        assert schedule.queue == "urgent"

    def test_an_unknown_class_ruby_s_for_example_gets_sidekiq_s_defaults(self) -> None:
        schedule = resolution.resolve(parse("n", good(**{"class": "Reports::NightlyJob"})))
        assert (schedule.queue, schedule.retry) == ("default", True)


class TestPayload:
    def test_a_tick_s_payload_is_sidekiq_s_with_periodic_at(self) -> None:
        schedule = parse("nightly_report", good(args=[7])).resolved(queue="reports", retry=3)
        job = payloads.build(schedule, 1_700_000_000, 1_700_000_000.004)
        assert job["class"] == "NightlyReportJob"
        assert job["args"] == [7]
        assert (job["queue"], job["retry"]) == ("reports", 3)
        assert (job["periodic"], job["periodic_at"]) == ("nightly_report", 1_700_000_000)
        assert job["created_at"] == job["enqueued_at"] == 1_700_000_000.004
        assert len(job["jid"]) == 24
        assert "periodic_manual" not in job

    def test_a_run_outside_the_schedule_says_so(self) -> None:
        job = payloads.build(parse("n", good()), 5, 5.5, manual=True)
        assert job["periodic_manual"] is True
        assert job["queue"] == "default"


@pytest.mark.usefixtures("no_declarations")
class TestDeclaredInCode:
    def test_define_takes_a_job_class_or_a_class_name(self) -> None:
        first = declared.define("report", PeriodicReportJob, cron="@daily", args=[7])
        second = declared.define("ruby", "Billing::InvoiceJob", every=60, missed="all")
        assert first.job_class == "PeriodicReportJob"
        assert first.cron == "@daily"
        assert second.job_class == "Billing::InvoiceJob"
        assert declared.declared() == (first, second)

    def test_define_validates_as_the_config_file_does(self) -> None:
        with pytest.raises(ConfigError, match="periodic schedule 'r': every"):
            declared.define("r", "A", every=-1)
        with pytest.raises(ConfigError, match="exactly one of"):
            declared.define("r", "A")

    def test_a_name_declared_twice_is_refused(self) -> None:
        declared.define("r", "A", every=1)
        with pytest.raises(ConfigError, match="declared twice"):
            declared.define("r", "B", every=2)
