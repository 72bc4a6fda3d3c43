"""PeriodicTicker against a real redis-server, on clocks the tests set.

Each ticker stands for one worker process: its own client and its own clock. Setting the
clocks by hand makes downtime, skew and DST days exact and instant; the real-time runs
with several processes are in test_processes.py.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from sidequest.connection import connect
from sidequest.periodic_jobs.schedule import Schedule, parse
from sidequest.periodic_jobs.store import ClaimReply, ClaimRequest, PeriodicStore
from sidequest.periodic_jobs.ticker import FireReport, PeriodicTicker
from tests.integration.sidequest.periodic_jobs.conftest import pushed, ticks_pushed

PUBLISHED = 1_000.2


class Clock:
    def __init__(self, now: float = PUBLISHED):
        self.now = now

    def __call__(self) -> float:
        return self.now


def every_second(name: str = "tick", **settings: object) -> Schedule:
    values: dict[str, object] = {"every": 1, "class": "TickJob", **settings}
    return parse(name, values).resolved(queue="default", retry=True)


NewTicker = Callable[..., tuple[PeriodicTicker, Clock]]


@pytest.fixture
def new_ticker(redis_url: str) -> NewTicker:
    """A ticker on a client of its own, as in a worker process of its own."""

    def make(now: float = PUBLISHED, refresh_seconds: float = 30.0) -> tuple[PeriodicTicker, Clock]:
        clock = Clock(now)
        ticker = PeriodicTicker(
            PeriodicStore(connect(redis_url)), clock=clock, refresh_seconds=refresh_seconds
        )
        return ticker, clock

    return make


def fire_at(ticker: PeriodicTicker, clock: Clock, now: float) -> FireReport:
    clock.now = now
    return ticker.fire(now)


class TestOneTickOnce:
    def test_two_tickers_firing_one_tick_push_it_once(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second()], PUBLISHED)
        (a, clock_a), (b, clock_b) = new_ticker(), new_ticker()
        for ticker, clock in ((a, clock_a), (b, clock_b)):
            assert fire_at(ticker, clock, 1_000.5).enqueued == []  # both started
        first = fire_at(a, clock_a, 1_001.003)
        second = fire_at(b, clock_b, 1_001.004)
        assert [(e.name, e.tick, e.caught_up) for e in first.enqueued] == [("tick", 1_001, False)]
        assert first.enqueued[0].lateness == pytest.approx(0.003)
        assert (second.enqueued, second.lost) == ([], 1)
        assert ticks_pushed(client) == {1_001: 1}
        assert a.due(1_001.1) == b.due(1_001.1) == 1_002

    def test_due_is_now_until_the_first_fire_loads_the_schedules(
        self, store: PeriodicStore, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second(every=60)], PUBLISHED)
        ticker, clock = new_ticker()
        assert ticker.due(PUBLISHED) == PUBLISHED
        assert fire_at(ticker, clock, PUBLISHED).enqueued == []
        assert ticker.due(PUBLISHED) == 1_020

    def test_without_schedules_due_is_the_next_refresh(
        self, store: PeriodicStore, new_ticker: NewTicker
    ) -> None:
        ticker, clock = new_ticker(refresh_seconds=30)
        fire_at(ticker, clock, PUBLISHED)
        assert ticker.due(PUBLISHED) == PUBLISHED + 30

    def test_three_schedules_due_together_each_push_their_tick(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish(
            [
                every_second("one"),
                every_second("two", every=2, queue="q2"),
                parse("cron", {"cron": "* * * * *", "class": "C"}).resolved(queue="q3", retry=1),
            ],
            1_019.5,
        )
        ticker, clock = new_ticker()
        report = fire_at(ticker, clock, 1_020.001)
        # 1020 is a whole minute since the epoch (17 * 60) and a multiple of 2.
        assert sorted((e.name, e.tick) for e in report.enqueued) == [
            ("cron", 1_020),
            ("one", 1_020),
            ("two", 1_020),
        ]
        assert [job["class"] for job in pushed(client, "q3")] == ["C"]
        assert pushed(client, "q3")[0]["retry"] == 1


class TestClockSkew:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_tickers_half_a_second_apart_push_every_tick_once(
        self,
        store: PeriodicStore,
        client: redis.Redis,
        new_ticker: NewTicker,
        seed: int,
    ) -> None:
        """Three tickers whose clocks read 0.5 s ahead, right, and 0.5 s behind, each
        waking when its own clock reaches its due time plus a random delay of up to 20 ms;
        events run in order of true time."""
        store.publish([every_second()], PUBLISHED)
        jitter = random.Random(seed)
        tickers = [(*new_ticker(), skew) for skew in (0.5, 0.0, -0.5)]
        wakeups = [(PUBLISHED - skew, index) for index, (_, _, skew) in enumerate(tickers)]
        heapq.heapify(wakeups)
        while wakeups[0][0] < 1_200.9:
            true_time, index = heapq.heappop(wakeups)
            ticker, clock, skew = tickers[index]
            fire_at(ticker, clock, true_time + skew)
            wake = ticker.due(clock.now) - skew + jitter.uniform(0.0, 0.02)
            heapq.heappush(wakeups, (max(wake, true_time), index))
        counts = ticks_pushed(client)
        # Each tick once and none missing; the ticker 0.5 s ahead may have claimed 1201.
        assert set(counts.values()) == {1}
        assert sorted(counts) == list(range(1_001, max(counts) + 1))
        assert max(counts) >= 1_200


class TestDowntime:
    """Ticks 1001-1005 run; no worker runs from then until 1016.2; a worker starts."""

    @pytest.mark.parametrize(
        ("policy", "limit", "caught_up"),
        [
            ("skip", 10, []),
            ("one", 10, [1_015]),
            ("all", 10, list(range(1_006, 1_016))),
            ("all", 3, [1_013, 1_014, 1_015]),
        ],
    )
    def test_the_missed_policy_decides_what_runs_after_downtime(
        self,
        store: PeriodicStore,
        client: redis.Redis,
        new_ticker: NewTicker,
        policy: str,
        limit: int,
        caught_up: list[int],
    ) -> None:
        store.publish([every_second(missed=policy, missed_limit=limit)], PUBLISHED)
        before, clock = new_ticker()
        for tick in range(1_001, 1_006):
            fire_at(before, clock, tick + 0.003)
        after, clock = new_ticker(1_016.2)
        store.publish([every_second(missed=policy, missed_limit=limit)], 1_016.2)
        report = fire_at(after, clock, 1_016.2)
        fire_at(after, clock, 1_017.003)
        expected = [*range(1_001, 1_006), *caught_up, 1_016, 1_017]
        assert ticks_pushed(client) == {tick: 1 for tick in expected}
        assert [job["periodic_at"] for job in pushed(client)] == expected
        assert report.missed == {"tick": 10}
        assert report.dropped == ({"tick": 10 - len(caught_up)} if len(caught_up) < 10 else {})
        assert {e.tick for e in report.enqueued if e.caught_up} == set(caught_up)
        (status,) = store.statuses(1_017.5)
        assert (status.missed, status.dropped) == (10, 10 - len(caught_up))

    def test_missed_ticks_are_counted_even_when_the_claim_s_reply_is_lost(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        # The claimer dies (or its connection drops) after Redis ran its claim: it never
        # reports the ticks it dropped, and the next claim finds them settled.
        store.publish([every_second(missed="one")], PUBLISHED)
        before, clock = new_ticker()
        fire_at(before, clock, 1_001.003)
        lost, clock = new_ticker(1_016.2)
        claim = lost.store.claim

        def claim_then_lose_the_reply(requests: list[ClaimRequest]) -> list[ClaimReply]:
            claim(requests)
            raise redis.ConnectionError("the reply never came")

        lost.store.claim = claim_then_lose_the_reply  # type: ignore[method-assign,assignment]
        with pytest.raises(redis.ConnectionError):
            fire_at(lost, clock, 1_016.2)
        survivor, clock = new_ticker(1_016.3)
        report = fire_at(survivor, clock, 1_016.3)
        assert (report.enqueued, report.missed) == ([], {})
        assert ticks_pushed(client) == {1_001: 1, 1_015: 1, 1_016: 1}
        (status,) = store.statuses(1_016.5)
        # 1002-1015 were missed: 1015 ran (`one`), the 13 others were dropped, counted.
        assert (status.missed, status.dropped) == (14, 13)


class TestPause:
    def test_a_paused_schedule_pushes_nothing_and_resumes_on_the_next_tick(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second(missed="all")], PUBLISHED)
        ticker, clock = new_ticker()
        fire_at(ticker, clock, 1_001.003)
        store.pause("tick")
        for tick in range(1_002, 1_011):
            report = fire_at(ticker, clock, tick + 0.003)
            assert (report.enqueued, report.paused) == ([], ["tick"])
        store.resume("tick", 1_010.5)
        fire_at(ticker, clock, 1_011.003)
        assert ticks_pushed(client) == {1_001: 1, 1_011: 1}

    def test_ticks_of_a_pause_with_no_worker_running_are_not_caught_up(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second(missed="all")], PUBLISHED)
        store.pause("tick")
        store.resume("tick", 1_020.5)
        ticker, clock = new_ticker(1_021.003)
        fire_at(ticker, clock, 1_021.003)
        assert ticks_pushed(client) == {1_021: 1}


class TestDefinitionChanges:
    def test_a_new_timing_published_elsewhere_takes_over_at_its_next_tick(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second()], PUBLISHED)
        ticker, clock = new_ticker()
        for tick in range(1_001, 1_011):
            fire_at(ticker, clock, tick + 0.003)
        store.publish([every_second(every=5)], 1_010.5)  # another worker starts
        assert fire_at(ticker, clock, 1_011.003).enqueued == []
        assert ticker.due(1_011.003) == 1_015
        fire_at(ticker, clock, 1_015.003)
        assert ticks_pushed(client) == {tick: 1 for tick in [*range(1_001, 1_011), 1_015]}

    def test_new_arguments_apply_from_the_next_tick_without_a_gap(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second(args=[1])], PUBLISHED)
        ticker, clock = new_ticker()
        fire_at(ticker, clock, 1_001.003)
        store.publish([every_second(args=[2])], 1_001.5)
        fire_at(ticker, clock, 1_002.003)
        assert [(j["periodic_at"], j["args"]) for j in pushed(client)] == [
            (1_001, [1]),
            (1_002, [2]),
        ]

    def test_a_removed_schedule_stops(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        store.publish([every_second()], PUBLISHED)
        ticker, clock = new_ticker()
        fire_at(ticker, clock, 1_001.003)
        store.publish([], 1_001.5)
        assert fire_at(ticker, clock, 1_002.003).enqueued == []
        assert ticker.due(1_002.003) == pytest.approx(1_002.003 + 30)
        assert ticks_pushed(client) == {1_001: 1}

    def test_a_schedule_published_elsewhere_is_picked_up_at_the_next_refresh(
        self, store: PeriodicStore, client: redis.Redis, new_ticker: NewTicker
    ) -> None:
        ticker, clock = new_ticker(refresh_seconds=10)
        fire_at(ticker, clock, PUBLISHED)
        store.publish([every_second(every=5, missed="skip")], 1_003.5)
        assert ticker.due(1_004) == PUBLISHED + 10
        fire_at(ticker, clock, PUBLISHED + 10)  # 1010.2: tick 1010 is on time
        assert ticks_pushed(client) == {1_010: 1}


class TestDaylightSavingTime:
    def fire_through(
        self, ticker: PeriodicTicker, clock: Clock, start: float, hours: int
    ) -> list[int]:
        """Fire at every due time (3 ms late) for `hours` hours; the ticks pushed."""
        fired: list[int] = []
        now = start
        while now < start + hours * 3600:
            fired += [e.tick for e in fire_at(ticker, clock, now).enqueued]
            now = ticker.due(now) + 0.003
        return fired

    @pytest.mark.parametrize(
        ("zone", "cron", "start", "expected"),
        [
            pytest.param(
                "Europe/Berlin",
                "30 2 * * *",
                datetime(2025, 3, 29, 12),
                ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"],
                id="berlin_spring_forward_runs_the_skipped_half_past_two_once_at_three",
            ),
            pytest.param(
                "America/New_York",
                "30 1 * * *",
                datetime(2025, 11, 1, 12),
                ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"],
                id="new_york_fall_back_runs_the_repeated_half_past_one_once",
            ),
        ],
    )
    def test_a_daily_cron_across_a_clock_change_runs_once_a_day(
        self,
        store: PeriodicStore,
        new_ticker: NewTicker,
        zone: str,
        cron: str,
        start: datetime,
        expected: list[str],
    ) -> None:
        tz = ZoneInfo(zone)
        begin = start.replace(tzinfo=tz).timestamp()
        nightly = parse("nightly", {"cron": cron, "tz": zone, "class": "N"})
        store.publish([nightly.resolved(queue="default", retry=True)], begin)
        ticker, clock = new_ticker(begin, refresh_seconds=3 * 86_400)
        fired = self.fire_through(ticker, clock, begin, 48)
        assert [datetime.fromtimestamp(t, tz).isoformat() for t in fired] == expected
