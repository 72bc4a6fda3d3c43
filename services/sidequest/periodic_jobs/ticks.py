"""When a periodic schedule ticks: `every: N` seconds, or a five-field cron expression in a
zone. Pure, no I/O.

A tick is a whole number of epoch seconds. Every process computes the same ticks from the
same definition, whatever its clock says, so a tick is identified by its time alone: that
is what lets processes claim ticks without a leader (store.py, periodic_claim.lua).

`every: N` ticks fall on the multiples of N seconds since the epoch (not N seconds after
some process started), so they need no shared starting point.

Cron expressions are evaluated by cronsim. The choice, made in 2026 among the maintained
cron libraries on PyPI:
- cronsim (Pēteris Caune, the author of Healthchecks.io, which runs it to predict every
  monitored cron job): no dependencies, typed (`py.typed`), zoneinfo-native, and its
  stated first priority is matching Debian's cron, DST behaviour included; releases
  through 2026 (2.8).
- croniter: its maintainer declared it abandoned in December 2024; pallets-eco took it
  over in 2025 and rewrote its DST logic (PR 177, June 2025) after years of DST bug
  reports (ticks an hour off after a change, fold ignored). Maintained again, but its
  DST semantics changed recently and it needs python-dateutil.
- python-crontab: edits crontab files; for schedules it delegates to croniter. LGPL.
cronsim wins on a defined, tested DST rule and on being small enough to read.

DST, as Debian's cron (and so cronsim) does it:
- An expression at specific times (minute and hour fields both not starting with `*`,
  e.g. `30 2 * * *`) is evaluated in local wall-clock time. A time in the hour skipped
  by a spring-forward change runs once, at the first valid time after it (03:00 in
  Berlin); several such times of one schedule fall together into that one tick. A time
  in the hour repeated by a fall-back change runs once, at its first occurrence.
- An expression whose minute or hour field starts with `*` (`*/15 * * * *`, `0 * * * *`)
  keeps its cadence in real time: the skipped hour has no ticks, and the repeated hour
  has its ticks twice, an hour apart, as two distinct instants.
Either way each tick is one instant, claimed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

#: Vixie cron's shorthands, which cronsim does not read itself
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Timing(Protocol):
    """The ticks of one schedule."""

    def next_after(self, t: float) -> int | None:
        """The first tick strictly after `t`; None if there is none (within 50 years)."""

    def between(self, a: float, b: float) -> Iterator[int]:
        """The ticks in (a, b], oldest first."""

    def count_between(self, a: float, b: float, cap: int) -> int:
        """How many ticks lie in (a, b]; a timing that has to walk them stops at `cap`."""


class EveryTicks:
    """Every `seconds` seconds, on the multiples of `seconds` since the epoch."""

    def __init__(self, seconds: int):
        if seconds < 1:
            raise ValueError(f"every: needs at least 1 second (got {seconds})")
        self.seconds = seconds

    def next_after(self, t: float) -> int:
        return (int(t // self.seconds) + 1) * self.seconds

    def between(self, a: float, b: float) -> Iterator[int]:
        tick = self.next_after(a)
        while tick <= b:
            yield tick
            tick += self.seconds

    def count_between(self, a: float, b: float, cap: int) -> int:
        if b <= a:
            return 0
        # Arithmetic, so exact at any length: the cap is for timings that walk.
        return max(0, int(b // self.seconds) - int(a // self.seconds))


class CronTicks:
    """A five-field cron expression (or an @alias) evaluated in an IANA zone."""

    def __init__(self, expression: str, zone: ZoneInfo):
        self.expression = ALIASES.get(expression.strip().lower(), expression.strip())
        self.zone = zone
        if len(self.expression.split()) != 5:
            raise ValueError(
                "needs five fields (minute hour day-of-month month day-of-week) or an "
                "@alias; for seconds use `every`"
            )
        try:
            CronSim(self.expression, datetime.fromtimestamp(0, zone))
        except CronSimError as error:
            raise ValueError(str(error).lower()) from None

    def _iterate(self, t: float) -> Iterator[int]:
        """Ticks after `t`, strictly increasing.

        cronsim walks expressions at specific times in naive local time: started inside
        the second pass of a repeated hour (fold=1), it offers the first pass's time again,
        which lies before `t`. Dropping what is not after the last tick keeps the ticks
        one increasing sequence, so that tick runs once.
        """
        last = t
        # The loop ends when cronsim finds no match within 50 years of the previous one.
        for moment in CronSim(self.expression, datetime.fromtimestamp(t, self.zone)):
            tick = int(moment.timestamp())
            if tick > last:
                last = tick
                yield tick

    def next_after(self, t: float) -> int | None:
        return next(self._iterate(t), None)

    def between(self, a: float, b: float) -> Iterator[int]:
        for tick in self._iterate(a):
            if tick > b:
                return
            yield tick

    def count_between(self, a: float, b: float, cap: int) -> int:
        count = 0
        for _ in self.between(a, b):
            count += 1
            if count >= cap:
                break
        return count
