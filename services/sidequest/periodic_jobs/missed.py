"""Which due ticks to enqueue: the ones on time, and missed ones as the policy says. Pure.

Every worker's scheduler wakes at a tick's time, so while any worker is alive a tick is
claimed within milliseconds of it. A tick still unclaimed long after its time therefore
fell due while no worker ran (or none could reach Redis): it is *missed*, and the
schedule's `missed` policy decides what happens to it:

    skip   only ticks to come; the missed ones are dropped
    one    one run, for the latest missed tick (runs coalesce)
    all    every missed tick, oldest first, but only the latest `missed_limit` of them

"Long after" is the tick's grace: half the interval to the schedule's next tick, but at
least 1 s (a stalled process or a slow round trip is not downtime) and at most 60 s (as
sidekiq-cron's reschedule grace period). So `every: 1` ticks are missed after 1 s, an
hourly tick after 60 s. Clock skew between hosts does not count against it: each process
claims at the tick's time by its own clock, so lateness is measured by the claimer's.

The plan settles every tick up to now: the watermark moves past dropped ticks too, so no
other process takes them up again (store.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sidequest.periodic_jobs.ticks import Timing

MIN_GRACE_SECONDS = 1.0
MAX_GRACE_SECONDS = 60.0
#: how far back the first look for due ticks reaches; it widens (x16) while the policy
#: wants more missed ticks than it found, so a year of downtime is not walked minute by
#: minute
FIRST_LOOK_BACK_SECONDS = 2 * MAX_GRACE_SECONDS
#: missed ticks beyond the ones looked at are counted up to this many (the metric's)
COUNT_CAP = 10_000


class Missed(StrEnum):
    SKIP = "skip"
    ONE = "one"
    ALL = "all"


@dataclass(frozen=True)
class Plan:
    """What to do about the ticks in (watermark, now].

    Attributes:
        run: ticks to enqueue, oldest first.
        caught_up: the ticks of `run` that were missed (run by the policy), not on time.
        missed: ticks past their grace, run or not (counted up to COUNT_CAP beyond the
            ones looked at).
        dropped: missed ticks not run.
        settle_to: the new watermark (every tick up to it is settled), or None when no
            tick is due.
    """

    run: tuple[int, ...]
    caught_up: frozenset[int]
    missed: int
    dropped: int
    settle_to: int | None


NOTHING_DUE = Plan(run=(), caught_up=frozenset(), missed=0, dropped=0, settle_to=None)


def grace(interval: float) -> float:
    """How late a tick may be claimed and still count as on time."""
    return min(MAX_GRACE_SECONDS, max(MIN_GRACE_SECONDS, interval / 2))


def plan(timing: Timing, watermark: int, now: float, policy: Missed, limit: int) -> Plan:
    """The ticks after `watermark` up to `now`, split into on time and missed."""
    wanted = {Missed.SKIP: 0, Missed.ONE: 1, Missed.ALL: limit}[policy]
    look_back = FIRST_LOOK_BACK_SECONDS
    while True:
        low = max(float(watermark), now - look_back)
        ticks = list(timing.between(low, now))
        on_time, missed = _split(timing, ticks, now)
        if low <= watermark or len(missed) >= wanted:
            break
        look_back *= 16
    unseen = timing.count_between(watermark, low, COUNT_CAP) if low > watermark else 0
    if not ticks and not unseen:
        return NOTHING_DUE
    caught_up = missed[max(0, len(missed) - wanted) :] if wanted else []
    missed_count = len(missed) + unseen
    return Plan(
        run=tuple(sorted(on_time + caught_up)),
        caught_up=frozenset(caught_up),
        missed=missed_count,
        dropped=missed_count - len(caught_up),
        # With no tick in the window, the latest missed one is older than `low`: now
        # settles it (ticks are whole seconds, so int(now) does as well as now).
        settle_to=ticks[-1] if ticks else int(now),
    )


def _split(timing: Timing, ticks: list[int], now: float) -> tuple[list[int], list[int]]:
    on_time: list[int] = []
    missed: list[int] = []
    for index, tick in enumerate(ticks):
        late = now - tick
        if late > MAX_GRACE_SECONDS:
            missed.append(tick)
            continue
        following = ticks[index + 1] if index + 1 < len(ticks) else timing.next_after(tick)
        interval = float("inf") if following is None else following - tick
        (on_time if late <= grace(interval) else missed).append(tick)
    return on_time, missed
