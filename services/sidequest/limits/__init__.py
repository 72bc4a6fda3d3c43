"""Concurrency and rate limits shared by every worker process, declared on job classes.

    @limits_concurrency(to=3, key=lambda account_id: f"stripe:{account_id}",
                        duration=timedelta(minutes=5))
    @limits_rate(100, per=timedelta(seconds=1), key=lambda account_id: f"stripe:{account_id}")
    class ChargeJob(Job):
        def perform(self, account_id): ...

A key function receives the job's arguments as perform does and returns the limit's
key; without one the limit is per class (its job name). The worker enforces the limits
when a job is about to start (runtime/limits.py, lua/limit_acquire.lua): a job refused a
slot or a start is neither run nor failed, it waits outside its queue and goes back to
the front of it when a slot frees or its next start is due. Nothing here talks to Redis,
so declaring limits costs an enqueuing process nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

__all__ = [
    "ConcurrencyLimit",
    "Limit",
    "LimitKeyError",
    "RateLimit",
    "limits_concurrency",
    "limits_of",
    "limits_rate",
]

KeyFunction = Callable[..., object]
T = TypeVar("T", bound=type)

#: how long a slot outlives its last refresh when no `duration` is given: the heartbeat
#: of a live process refreshes its slots, so this only bounds a process that vanished
#: without its lease expiring (its jobs are recovered when the lease does)
DEFAULT_DURATION = timedelta(minutes=5)

# The attribute a decorated class keeps its limits in (inherited by subclasses).
_ATTRIBUTE = "_sidequest_limits"


class LimitKeyError(Exception):
    """A limit's key function raised or returned nothing usable for a job's arguments."""


def _seconds(value: float | timedelta, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit:
    """At no moment more than `to` running jobs per key, across every process."""

    to: int
    key: KeyFunction | None = None
    #: seconds a slot outlives its last heartbeat refresh
    duration: float = DEFAULT_DURATION.total_seconds()
    kind: Literal["concurrency"] = "concurrency"

    def key_for(self, job_name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
        return _key(self.key, job_name, args, kwargs)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` starts per key in any window of `per` seconds (a sliding log)."""

    limit: int
    per: float
    key: KeyFunction | None = None
    kind: Literal["rate"] = "rate"

    def key_for(self, job_name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
        return _key(self.key, job_name, args, kwargs)


Limit = ConcurrencyLimit | RateLimit


def _key(function: KeyFunction | None, job_name: str, args: list[Any], kw: dict[str, Any]) -> str:
    if function is None:
        return job_name
    try:
        value = function(*args, **kw)
    except Exception as error:
        raise LimitKeyError(
            f"the limit key function of {job_name} raised {type(error).__name__}: {error}"
        ) from error
    key = "" if value is None else str(value)
    if not key:
        raise LimitKeyError(f"the limit key function of {job_name} returned {value!r}")
    return key


def limits_of(job_class: type) -> tuple[Limit, ...]:
    """The limits declared on `job_class` (and its bases), in declaration order."""
    limits: tuple[Limit, ...] = getattr(job_class, _ATTRIBUTE, ())
    return limits


def add_limit(job_class: T, limit: Limit) -> T:
    """Add `limit` to `job_class` without touching the limits of its bases."""
    setattr(job_class, _ATTRIBUTE, (*limits_of(job_class), limit))
    return job_class


def limits_concurrency(
    to: int,
    *,
    key: KeyFunction | None = None,
    duration: float | timedelta = DEFAULT_DURATION,
) -> Callable[[T], T]:
    """Class decorator: at most `to` jobs of one key run at any moment, everywhere.

    Args:
        to: slots per key (at least 1).
        key: called with the job's arguments; returns the key (per class without it).
        duration: how long a slot outlives the last heartbeat of the process holding it.
            A killed process's slots come back sooner, when its lease expires.
    """
    if isinstance(to, bool) or not isinstance(to, int) or to < 1:
        raise ValueError(f"limits_concurrency(to=...) must be a positive integer, got {to!r}")
    limit = ConcurrencyLimit(to, key, _seconds(duration, "duration"))

    def decorate(job_class: T) -> T:
        return add_limit(job_class, limit)

    return decorate


def limits_rate(
    limit: int,
    *,
    per: float | timedelta,
    key: KeyFunction | None = None,
) -> Callable[[T], T]:
    """Class decorator: at most `limit` jobs of one key start in any window of `per`.

    A sliding window over a log of start times (a sorted set per key), so that no window
    of `per`, wherever it begins, holds more than `limit` starts.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limits_rate(limit) must be a positive integer, got {limit!r}")
    rate = RateLimit(limit, _seconds(per, "per"), key)

    def decorate(job_class: T) -> T:
        return add_limit(job_class, rate)

    return decorate
