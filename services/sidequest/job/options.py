"""What one enqueue can change (`Job.set(...)`), and the time values it accepts.

Delays are seconds or timedeltas; points in time are datetimes or epoch seconds, where
numbers too small to be epochs count as relative seconds, as Sidekiq's perform_at does.
Pure: no I/O, no clock (callers pass `now`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Delay = float | int | timedelta
When = datetime | float | int

# perform_in/perform_at values below this are relative seconds, as in Sidekiq.
_ABSOLUTE_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class EnqueueOptions:
    """What `Job.set(...)` can change for one enqueue."""

    queue: str | None = None
    wait: Delay | None = None
    wait_until: When | None = None
    retry: bool | int | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    #: overrides the class's `expires_in`
    expires_in: Delay | None = None
    #: debounce window, key and cap (`Job.set`); no debounce when `debounce` is None
    debounce: Delay | None = None
    debounce_key: str | None = None
    debounce_max: Delay | None = None
    #: a SQLAlchemy session whose outbox table takes the job (`sidequest.outbox`)
    outbox: Any = None

    def run_at(self, now: float) -> float | None:
        """Epoch seconds to run at, or None to run as soon as possible."""
        if self.wait_until is not None:
            return to_epoch(self.wait_until, now)
        if self.wait is not None:
            return now + to_seconds(self.wait)
        return None

    def scheduled_at(self, now: float) -> float | None:
        """The run time when it lies after `now`; None (push to the queue at once) otherwise."""
        run_at = self.run_at(now)
        return run_at if run_at is not None and run_at > now else None


#: the options of a plain perform_later, shared rather than built for every call
NO_OPTIONS = EnqueueOptions()


def to_seconds(value: Delay) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a delay must be seconds or a timedelta, not {value!r}")
    return float(value)


def to_epoch(value: When, now: float) -> float:
    """A datetime (naive ones are local time) or epoch seconds; small numbers are relative."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a time must be a datetime or epoch seconds, not {value!r}")
    return float(value) if value >= _ABSOLUTE_EPOCH_THRESHOLD else now + float(value)
