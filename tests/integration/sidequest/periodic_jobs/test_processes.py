"""Real time, real processes: several tickers (one per would-be worker process) on one
`every: 1` schedule claim each tick exactly once, through kills, clock skew and downtime.

Each process is tests/integration/sidequest/periodic_jobs/ticker_process.py; what it
pushed is counted in Redis by `periodic_at`, and its log gives each push's lateness.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from sidequest.periodic_jobs.schedule import Schedule, parse
from sidequest.periodic_jobs.store import PeriodicStore
from tests.integration.sidequest.periodic_jobs.conftest import ticks_pushed, until
from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.slow


@dataclass
class Pushed:
    name: str
    tick: int
    lateness: float
    caught_up: bool


class Ticker:
    """One ticker_process child."""

    def __init__(self, redis_url: str, log: Path, skew: float):
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.sidequest.periodic_jobs.ticker_process",
                redis_url,
                str(skew),
                str(log),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def ready(self) -> bool:
        return self.log.exists() and self.log.read_text().startswith("ready")

    def pushed(self) -> list[Pushed]:
        lines = self.log.read_text().splitlines()[1:]
        return [
            Pushed(name, int(tick), float(late), caught == "1")
            for name, tick, late, caught in (line.split() for line in lines)
        ]

    def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        self.process.wait(10)


@pytest.fixture
def start_tickers(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., list[Ticker]]]:
    started: list[Ticker] = []

    def start(*skews: float) -> list[Ticker]:
        tickers = [
            Ticker(redis_url, tmp_path / f"ticker-{len(started) + i}.log", skew)
            for i, skew in enumerate(skews)
        ]
        started.extend(tickers)
        wait_for(lambda: all(t.ready() for t in tickers), timeout=20, message="tickers ready")
        return tickers

    yield start
    for ticker in started:
        ticker.stop(signal.SIGKILL)


def every_second(name: str = "tick", **settings: object) -> Schedule:
    values: dict[str, object] = {"every": 1, "class": "TickJob", **settings}
    return parse(name, values).resolved(queue="default", retry=True)


def assert_each_tick_once(client: redis.Redis, first: float, last: float) -> list[int]:
    counts = ticks_pushed(client)
    duplicated = sorted(tick for tick, count in counts.items() if count > 1)
    assert duplicated == [], f"ticks pushed more than once: {duplicated}"
    ticks = sorted(counts)
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), "a tick is missing"
    # Within 2 s of both ends: a clock behind by 0.5 s claims the last tick that late.
    assert ticks[0] <= first + 2 and ticks[-1] >= last - 2, (ticks[0], ticks[-1], first, last)
    return ticks


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def test_three_processes_claim_each_tick_once_through_a_kill_and_a_stop(
    store: PeriodicStore,
    client: redis.Redis,
    start_tickers: Callable[..., list[Ticker]],
    record_property: Callable[[str, object], None],
) -> None:
    store.publish([every_second()], time.time())
    tickers = start_tickers(0.0, 0.0, 0.0)
    started = time.time()
    until(started + 4)
    tickers[0].stop(signal.SIGKILL)
    until(started + 6)
    tickers[1].stop(signal.SIGTERM)
    until(started + 10)
    for ticker in tickers:
        ticker.stop()
    ticks = assert_each_tick_once(client, started, started + 10)
    pushes = [push for ticker in tickers for push in ticker.pushed()]
    assert sorted(push.tick for push in pushes) == ticks
    assert all(push.tick > started + 6 for push in tickers[2].pushed()[-3:])
    # Lateness of the ticks that fell due while the tickers ran (the first fire of each
    # may claim a tick from before it started, late by the start-up time).
    lateness = [push.lateness for push in pushes if push.tick > started]
    record_property("lateness_p99_seconds", p99(lateness))
    print(
        f"\n{len(ticks)} ticks; lateness p50 {sorted(lateness)[len(lateness) // 2]:.4f} s, "
        f"p99 {p99(lateness):.4f} s, max {max(lateness):.4f} s"
    )
    assert p99(lateness) < 0.25
    assert not any(push.caught_up for push in pushes)


def test_clocks_half_a_second_apart_change_nothing(
    store: PeriodicStore, client: redis.Redis, start_tickers: Callable[..., list[Ticker]]
) -> None:
    store.publish([every_second()], time.time())
    ahead, behind = start_tickers(0.5, -0.5)
    started = time.time()
    until(started + 4)
    # The clock ahead claims first; once it is gone the one behind takes over.
    ahead.stop(signal.SIGKILL)
    until(started + 8)
    behind.stop()
    ticks = assert_each_tick_once(client, started, started + 8)
    assert ahead.pushed() and behind.pushed()
    assert sorted(p.tick for p in [*ahead.pushed(), *behind.pushed()]) == ticks
    assert max(p.tick for p in ahead.pushed()) < min(p.tick for p in behind.pushed())


def test_ten_seconds_of_downtime_with_each_missed_policy(
    store: PeriodicStore, client: redis.Redis, start_tickers: Callable[..., list[Ticker]]
) -> None:
    policies = {"skip": {}, "one": {}, "all": {"missed_limit": 20}}
    schedules = [every_second(name, missed=name, **extra) for name, extra in policies.items()]
    store.publish(schedules, time.time())
    (before,) = start_tickers(0.0)
    until(time.time() + 3)
    before.stop(signal.SIGKILL)
    down_from = max(p.tick for p in before.pushed())
    until(time.time() + 10)
    store.publish(schedules, time.time())  # the worker's start publishes; nothing changed
    (after,) = start_tickers(0.0)
    until(time.time() + 3)
    after.stop()
    resumed = min(p.tick for p in after.pushed() if not p.caught_up)
    assert resumed - down_from >= 10
    logged = [p for ticker in (before, after) for p in ticker.pushed()]
    for name in policies:
        counts = ticks_pushed(client, schedule=name)
        assert set(counts.values()) == {1}, f"{name}: a tick pushed twice"
        mine = sorted(p.tick for p in logged if p.name == name)
        assert mine == sorted(counts)
        in_downtime = [tick for tick in mine if down_from < tick < resumed]
        expected = {
            "skip": [],
            "one": [resumed - 1],
            "all": list(range(down_from + 1, resumed)),
        }[name]
        assert in_downtime == expected, name
        assert mine[-1] >= resumed + 1
        assert [t for t in mine if t >= resumed] == list(range(resumed, mine[-1] + 1)), name
