"""The `missed` policies: which due ticks a claim enqueues after downtime, and grace."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sidequest.periodic_jobs.missed import NOTHING_DUE, Missed, grace, plan
from sidequest.periodic_jobs.ticks import CronTicks, EveryTicks

SECOND = EveryTicks(1)
UTC = ZoneInfo("UTC")


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def tick(text: str) -> int:
    return int(at(text))


class TestOnTime:
    def test_a_tick_claimed_within_its_grace_runs_whatever_the_policy(self) -> None:
        for policy in Missed:
            result = plan(SECOND, 1_000, 1_001.004, policy, 10)
            assert result.run == (1_001,)
            assert result.missed == result.dropped == 0
            assert result.settle_to == 1_001

    def test_nothing_is_due_before_the_next_tick(self) -> None:
        assert plan(SECOND, 1_001, 1_001.999, Missed.ALL, 10) is NOTHING_DUE

    def test_grace_is_half_the_interval_between_one_and_sixty_seconds(self) -> None:
        assert grace(1) == 1.0
        assert grace(30) == 15.0
        assert grace(3600) == 60.0
        assert grace(float("inf")) == 60.0

    def test_an_hourly_tick_is_on_time_up_to_a_minute_late(self) -> None:
        hourly = CronTicks("0 * * * *", UTC)
        tick = at("2025-01-01T10:00:00+00:00")
        assert plan(hourly, int(tick) - 1, tick + 59, Missed.SKIP, 10).run == (tick,)
        late = plan(hourly, int(tick) - 1, tick + 61, Missed.SKIP, 10)
        assert late.run == ()
        assert (late.missed, late.dropped, late.settle_to) == (1, 1, tick)

    def test_every_thirty_seconds_is_on_time_for_fifteen(self) -> None:
        every = EveryTicks(30)
        assert plan(every, 990, 1_020 + 15, Missed.SKIP, 10).run == (1_020,)
        assert plan(every, 990, 1_020 + 15.5, Missed.SKIP, 10).run == ()


class TestAfterTenSecondsOfDowntime:
    """`every: 1`; the last tick claimed was 1000 and the workers return at 1010.3: tick
    1010 is on time, 1001 to 1009 were missed."""

    def test_skip_runs_only_the_tick_on_time(self) -> None:
        result = plan(SECOND, 1_000, 1_010.3, Missed.SKIP, 10)
        assert result.run == (1_010,)
        assert result.caught_up == frozenset()
        assert (result.missed, result.dropped, result.settle_to) == (9, 9, 1_010)

    def test_one_runs_the_latest_missed_tick_and_the_tick_on_time(self) -> None:
        result = plan(SECOND, 1_000, 1_010.3, Missed.ONE, 10)
        assert result.run == (1_009, 1_010)
        assert result.caught_up == {1_009}
        assert (result.missed, result.dropped) == (9, 8)

    def test_all_runs_every_missed_tick_oldest_first(self) -> None:
        result = plan(SECOND, 1_000, 1_010.3, Missed.ALL, 10)
        assert result.run == tuple(range(1_001, 1_011))
        assert result.caught_up == set(range(1_001, 1_010))
        assert (result.missed, result.dropped) == (9, 0)

    def test_all_stops_at_missed_limit_keeping_the_latest(self) -> None:
        result = plan(SECOND, 1_000, 1_010.3, Missed.ALL, 3)
        assert result.run == (1_007, 1_008, 1_009, 1_010)
        assert (result.missed, result.dropped) == (9, 6)


class TestLongDowntime:
    def test_a_daily_schedule_down_for_three_days_runs_the_latest_once(self) -> None:
        daily = CronTicks("30 2 * * *", UTC)
        last = int(at("2025-01-01T02:30:00+00:00"))
        now = at("2025-01-04T12:00:00+00:00")
        one = plan(daily, last, now, Missed.ONE, 10)
        assert one.run == (tick("2025-01-04T02:30:00+00:00"),)
        assert (one.missed, one.dropped, one.settle_to) == (3, 2, tick("2025-01-04T02:30:00+00:00"))
        skip = plan(daily, last, now, Missed.SKIP, 10)
        assert skip.run == ()
        assert (skip.missed, skip.dropped) == (3, 3)
        # Every tick up to now is settled, whether or not the look-back window saw it.
        assert skip.settle_to is not None and skip.settle_to >= at("2025-01-04T02:30:00+00:00")

    def test_a_year_of_minutely_ticks_is_planned_quickly_and_counted_up_to_the_cap(
        self,
    ) -> None:
        minutely = CronTicks("* * * * *", UTC)
        last = int(at("2024-01-01T00:00:00+00:00"))
        now = at("2025-01-01T00:00:30+00:00")
        started = time.perf_counter()
        result = plan(minutely, last, now, Missed.ALL, 10)
        assert time.perf_counter() - started < 1.0
        assert result.run == tuple(
            int(at("2025-01-01T00:00:00+00:00")) - 60 * n for n in range(10, -1, -1)
        )
        assert result.caught_up == set(result.run[:-1])
        assert result.missed >= 10_000

    def test_every_counts_missed_ticks_exactly(self) -> None:
        result = plan(SECOND, 1_000, 1_000 + 86_400.5, Missed.SKIP, 10)
        assert (result.missed, result.run) == (86_399, (87_400,))


@pytest.mark.parametrize("policy", list(Missed))
def test_the_plan_never_runs_a_tick_at_or_before_the_watermark(policy: Missed) -> None:
    for watermark in range(990, 1_011):
        result = plan(SECOND, watermark, 1_010.5, policy, 10)
        assert all(watermark < tick <= 1_010.5 for tick in result.run)
        assert list(result.run) == sorted(set(result.run))
