"""When schedules tick: `every` aligned to the epoch, cron in UTC and across DST changes.

The DST expectations are written out as local times with their offsets, as a person would
check them against a calendar; the ticks themselves come from cronsim.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sidequest.periodic_jobs.ticks import CronTicks, EveryTicks

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> float:
    """Epoch seconds of an ISO time with its offset."""
    return datetime.fromisoformat(text).timestamp()


def local(ticks: list[int], zone: ZoneInfo) -> list[str]:
    return [datetime.fromtimestamp(tick, zone).isoformat() for tick in ticks]


class TestEvery:
    def test_ticks_fall_on_multiples_of_the_interval_since_the_epoch(self) -> None:
        every = EveryTicks(30)
        assert every.next_after(1_000) == 1_020
        assert every.next_after(1_019.999) == 1_020
        assert list(every.between(1_000, 1_090)) == [1_020, 1_050, 1_080]

    def test_the_next_tick_is_strictly_after_the_time_given(self) -> None:
        assert EveryTicks(30).next_after(1_020) == 1_050
        assert list(EveryTicks(1).between(5, 8)) == [6, 7, 8]

    def test_processes_started_at_different_times_compute_the_same_ticks(self) -> None:
        every = EveryTicks(7)
        early = [t for t in every.between(1_000.25, 1_200) if t > 1_100]
        late = list(every.between(1_100.9, 1_200))
        assert early == late
        assert all(tick % 7 == 0 for tick in late)

    def test_count_between_is_exact_at_any_length(self) -> None:
        every = EveryTicks(10)
        assert every.count_between(0, 100, cap=1_000) == 10
        assert every.count_between(5, 100.5, cap=1_000) == 10
        assert every.count_between(0, 1e9, cap=50) == 100_000_000
        assert every.count_between(100, 100, cap=50) == 0

    def test_an_interval_below_one_second_is_refused(self) -> None:
        with pytest.raises(ValueError):
            EveryTicks(0)


class TestCronInUtc:
    def test_every_fifteen_minutes(self) -> None:
        cron = CronTicks("*/15 * * * *", ZoneInfo("UTC"))
        ticks = list(cron.between(at("2025-01-01T00:00:00+00:00"), at("2025-01-01T01:00:00+00:00")))
        assert local(ticks, ZoneInfo("UTC")) == [
            "2025-01-01T00:15:00+00:00",
            "2025-01-01T00:30:00+00:00",
            "2025-01-01T00:45:00+00:00",
            "2025-01-01T01:00:00+00:00",
        ]

    def test_daily_at_half_past_two_across_a_month_end(self) -> None:
        cron = CronTicks("30 2 * * *", ZoneInfo("UTC"))
        ticks = list(cron.between(at("2025-01-30T03:00:00+00:00"), at("2025-02-02T00:00:00+00:00")))
        assert [datetime.fromtimestamp(t, UTC).isoformat() for t in ticks] == [
            "2025-01-31T02:30:00+00:00",
            "2025-02-01T02:30:00+00:00",
        ]

    def test_weekdays_and_aliases(self) -> None:
        weekdays = CronTicks("0 9 * * MON-FRI", ZoneInfo("UTC"))
        # 2025-01-03 is a Friday: the next run is Monday the 6th.
        assert weekdays.next_after(at("2025-01-03T09:00:00+00:00")) == at(
            "2025-01-06T09:00:00+00:00"
        )
        hourly = CronTicks("@hourly", ZoneInfo("UTC"))
        assert hourly.next_after(at("2025-01-03T09:00:00+00:00")) == at("2025-01-03T10:00:00+00:00")

    def test_a_leap_day_schedule_skips_to_the_next_leap_year(self) -> None:
        cron = CronTicks("0 0 29 2 *", ZoneInfo("UTC"))
        assert cron.next_after(at("2025-01-01T00:00:00+00:00")) == at("2028-02-29T00:00:00+00:00")

    def test_a_cron_count_stops_at_the_cap(self) -> None:
        minutely = CronTicks("* * * * *", ZoneInfo("UTC"))
        assert minutely.count_between(0, 3600, cap=1_000) == 60
        assert minutely.count_between(0, 86_400, cap=100) == 100

    @pytest.mark.parametrize(
        "expression", ["61 * * * *", "* * * *", "0 0 * * * *", "0 0 30 2 *", "banana"]
    )
    def test_invalid_expressions_raise_value_error(self, expression: str) -> None:
        with pytest.raises(ValueError):
            CronTicks(expression, ZoneInfo("UTC"))


class TestDaylightSavingTime:
    """Spring forward: 2025-03-30 02:00 -> 03:00 in Berlin, 2025-03-09 02:00 -> 03:00 in New
    York. Fall back: 2025-10-26 03:00 -> 02:00 in Berlin, 2025-11-02 02:00 -> 01:00 in
    New York."""

    def test_berlin_spring_forward_a_skipped_tick_runs_once_at_three(self) -> None:
        cron = CronTicks("30 2 * * *", BERLIN)
        ticks = list(cron.between(at("2025-03-28T12:00:00+01:00"), at("2025-04-01T00:00:00+02:00")))
        assert local(ticks, BERLIN) == [
            "2025-03-29T02:30:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00",
        ]

    def test_berlin_spring_forward_two_skipped_ticks_fall_together_into_one(self) -> None:
        cron = CronTicks("0,30 2 * * *", BERLIN)
        ticks = list(cron.between(at("2025-03-30T00:00:00+01:00"), at("2025-03-31T00:00:00+02:00")))
        assert local(ticks, BERLIN) == ["2025-03-30T03:00:00+02:00"]

    def test_berlin_spring_forward_a_half_hourly_schedule_keeps_real_time(self) -> None:
        cron = CronTicks("*/30 * * * *", BERLIN)
        ticks = list(cron.between(at("2025-03-30T01:00:00+01:00"), at("2025-03-30T04:00:00+02:00")))
        assert local(ticks, BERLIN) == [
            "2025-03-30T01:30:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-30T03:30:00+02:00",
            "2025-03-30T04:00:00+02:00",
        ]

    def test_berlin_fall_back_a_repeated_hour_tick_runs_once(self) -> None:
        cron = CronTicks("30 2 * * *", BERLIN)
        ticks = list(cron.between(at("2025-10-25T12:00:00+02:00"), at("2025-10-28T00:00:00+01:00")))
        assert local(ticks, BERLIN) == [
            "2025-10-26T02:30:00+02:00",
            "2025-10-27T02:30:00+01:00",
        ]

    def test_berlin_fall_back_a_half_hourly_schedule_ticks_through_both_hours(self) -> None:
        cron = CronTicks("*/30 * * * *", BERLIN)
        ticks = list(cron.between(at("2025-10-26T01:30:00+02:00"), at("2025-10-26T03:00:00+01:00")))
        assert local(ticks, BERLIN) == [
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:30:00+01:00",
            "2025-10-26T03:00:00+01:00",
        ]

    def test_new_york_spring_forward_a_skipped_tick_runs_once_at_three(self) -> None:
        cron = CronTicks("30 2 * * *", NEW_YORK)
        ticks = list(cron.between(at("2025-03-08T12:00:00-05:00"), at("2025-03-11T00:00:00-04:00")))
        assert local(ticks, NEW_YORK) == [
            "2025-03-09T03:00:00-04:00",
            "2025-03-10T02:30:00-04:00",
        ]

    def test_new_york_fall_back_a_repeated_hour_tick_runs_once(self) -> None:
        cron = CronTicks("30 1 * * *", NEW_YORK)
        ticks = list(cron.between(at("2025-11-01T12:00:00-04:00"), at("2025-11-04T00:00:00-05:00")))
        assert local(ticks, NEW_YORK) == [
            "2025-11-02T01:30:00-04:00",
            "2025-11-03T01:30:00-05:00",
        ]

    def test_new_york_fall_back_from_inside_the_second_pass_does_not_run_it_again(self) -> None:
        cron = CronTicks("30 1 * * *", NEW_YORK)
        # 01:15 EST comes after 01:30 EDT: the day's tick is behind, the next is tomorrow.
        second_pass = at("2025-11-02T01:15:00-05:00")
        assert cron.next_after(second_pass) == at("2025-11-03T01:30:00-05:00")

    def test_new_york_fall_back_an_hourly_schedule_runs_in_each_real_hour(self) -> None:
        cron = CronTicks("0 * * * *", NEW_YORK)
        ticks = list(cron.between(at("2025-11-02T00:30:00-04:00"), at("2025-11-02T02:00:00-05:00")))
        assert local(ticks, NEW_YORK) == [
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T02:00:00-05:00",
        ]

    @pytest.mark.parametrize(
        ("expression", "zone", "day"),
        [
            ("30 2 * * *", BERLIN, "2025-03-30"),
            ("30 2 * * *", BERLIN, "2025-10-26"),
            ("*/20 * * * *", BERLIN, "2025-10-26"),
            ("30 1 * * *", NEW_YORK, "2025-11-02"),
            ("0,30 2 * * *", NEW_YORK, "2025-03-09"),
            ("15 */2 * * *", NEW_YORK, "2025-11-02"),
        ],
    )
    def test_ticks_do_not_depend_on_where_a_process_starts_looking(
        self, expression: str, zone: ZoneInfo, day: str
    ) -> None:
        """Any two processes agree on the ticks, whenever each computed them: the ticks
        after any moment are the whole day's ticks after that moment."""
        cron = CronTicks(expression, zone)
        start = datetime.fromisoformat(day).replace(tzinfo=zone).timestamp() - 3 * 3600
        end = start + 60 * 3600
        whole_day = list(cron.between(start, end))
        assert whole_day == sorted(set(whole_day))
        moments = itertools.count(start, 7 * 60)
        for moment in itertools.takewhile(lambda t: t < start + 30 * 3600, moments):
            following = [t for t in whole_day if moment < t <= moment + 4 * 3600]
            assert cron.next_after(moment) == next(t for t in whole_day if t > moment)
            assert list(cron.between(moment, moment + 4 * 3600)) == following
