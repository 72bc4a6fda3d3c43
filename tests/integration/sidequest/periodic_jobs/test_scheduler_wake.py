"""The scheduler thread wakes at the next tick however long its last fire took: the
sleep is measured from when it starts, not from the time read before the fire."""

from __future__ import annotations

import math
import time
from typing import cast

from sidequest import keys, payload
from sidequest.config import build_settings
from sidequest.connection import connect
from sidequest.periodic_jobs.ticker import FireReport
from sidequest.runtime.periodic import PeriodicFiring
from sidequest.runtime.scheduler import Scheduler
from sidequest.runtime.store.schedule import ScheduleStore
from tests.support.polling import wait_for

PERIOD = 0.5
#: what one fire costs here: claims of many schedules on a loaded machine
FIRE_SECONDS = 0.2


class SlowFiring:
    """Stands in for PeriodicFiring: due every PERIOD on the grid, each fire slow."""

    def __init__(self) -> None:
        self.next = (math.floor(time.time() / PERIOD) + 2) * PERIOD
        self.fired: list[tuple[float, float]] = []  # (due, called at)

    def due(self, now: float) -> float:
        return self.next

    def fire(self, now: float) -> FireReport | None:
        self.fired.append((self.next, time.time()))
        busy_until = time.monotonic() + FIRE_SECONDS
        while time.monotonic() < busy_until:  # the fire's own work, not a wait
            pass
        self.next += PERIOD
        return None


def test_a_slow_fire_does_not_make_the_next_wake_late(redis_url: str) -> None:
    settings = build_settings(environ={})
    client = connect(redis_url)
    firing = SlowFiring()
    scheduler = Scheduler(
        ScheduleStore(client, settings),
        lambda: connect(redis_url),
        max_sleep=5.0,
        periodic=cast(PeriodicFiring, firing),
    )
    scheduler.start()
    try:
        wait_for(lambda: len(firing.fired) >= 5, timeout=15, message="five fires")
    finally:
        scheduler.stop()
        client.close()
    late = [called - due for due, called in firing.fired[1:5]]
    assert all(lateness >= 0 for lateness in late), late
    # Woken from the time read before the fire, each wake came FIRE_SECONDS late.
    assert max(late) < FIRE_SECONDS / 2, late


class LookCountingStore(ScheduleStore):
    """Counts the scheduler's looks at the earliest due job."""

    looks = 0

    def earliest_due(self) -> float | None:
        self.looks += 1
        return super().earliest_due()


def test_jobs_it_moves_onto_a_queue_wake_the_fetcher_and_an_empty_look_does_not(
    redis_url: str,
) -> None:
    """The launcher's fetcher takes the pushed jobs in one round trip (on_pushed)."""
    settings = build_settings(environ={})
    client = connect(redis_url)
    pushes: list[float] = []
    store = LookCountingStore(client, settings)
    scheduler = Scheduler(
        store,
        lambda: connect(redis_url),
        max_sleep=0.05,
        on_pushed=lambda: pushes.append(time.time()),
    )
    scheduler.start()
    try:
        # Several looks at an empty schedule: none of them counts as a push.
        wait_for(lambda: store.looks >= 3, timeout=5, message="three looks")
        assert pushes == []
        job = payload.build("SomeJob", [1])
        job["queue"] = "default"
        due = time.time() + 0.1
        client.zadd(keys.SCHEDULE, {payload.encode(job): due})
        wait_for(lambda: client.llen(keys.queue("default")) == 1, timeout=5, message="moved")
        wait_for(lambda: len(pushes) == 1, timeout=5, message="on_pushed called")
        assert pushes[0] >= due
    finally:
        scheduler.stop()
        client.close()
