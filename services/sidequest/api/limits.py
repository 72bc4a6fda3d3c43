"""Limiter state: every concurrency and rate limit in use, with its slots and waiters.

Read from the limiters' keys (sidequest.keys: `sidequest:limits:*`), never from job
classes: a limit appears once a job of it has started or waited.

    for state in Limits(client).all():
        print(state.kind, state.key, state.in_use, state.limit, state.parked)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, text


@dataclass(frozen=True)
class LimitState:
    """One limit key now.

    Attributes:
        kind: "concurrency" or "rate".
        key: what the limit's key function returned (the class name without one).
        limit: slots (concurrency) or starts per window (rate).
        per: the rate limit's window in seconds; None for a concurrency limit.
        in_use: slots held by running jobs, or starts within the last window.
        parked: jobs waiting for a slot of this key (concurrency limits only; a
            throttled job waits in the schedule set, counted in `ScheduledSet`).
        holders: the holders of the slots, "<process identity>|<n>".
    """

    kind: Literal["concurrency", "rate"]
    key: str
    limit: int
    per: float | None
    in_use: int
    parked: int
    holders: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "limit": self.limit,
            "per": self.per,
            "in_use": self.in_use,
            "parked": self.parked,
            "holders": list(self.holders),
        }


class Limits:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def all(self, now: float | None = None) -> list[LimitState]:
        """Every limit key in use, the busiest first (most parked, then most in use)."""
        moment = time.time() if now is None else now
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.LIMITS_CONCURRENCY)
        pipe.hgetall(keys.LIMITS_RATE)
        concurrency_raw, rate_raw = pipe.execute()
        concurrency = {text(k): text(v) for k, v in concurrency_raw.items()}
        rate = {text(k): text(v) for k, v in rate_raw.items()}
        pipe = self.redis.pipeline(transaction=False)
        for name in concurrency:
            pipe.zrangebyscore(keys.limit_slots(name), repr(moment), "+inf")
            pipe.llen(keys.limit_parked(name))
        windows: list[float] = []
        for name, spec in rate.items():
            per = _per(spec)
            windows.append(per)
            pipe.zcount(keys.limit_starts(name), f"({moment - per!r}", "+inf")
        replies = pipe.execute()
        states: list[LimitState] = []
        for index, (name, to) in enumerate(concurrency.items()):
            holders = tuple(text(holder) for holder in replies[index * 2])
            states.append(
                LimitState(
                    "concurrency",
                    name,
                    _int(to),
                    None,
                    len(holders),
                    int(replies[index * 2 + 1]),
                    holders,
                )
            )
        offset = len(concurrency) * 2
        for index, (name, spec) in enumerate(rate.items()):
            states.append(
                LimitState(
                    "rate",
                    name,
                    _int(spec.partition("/")[0]),
                    windows[index],
                    int(replies[offset + index]),
                    0,
                )
            )
        states.sort(key=lambda state: (-state.parked, -state.in_use, state.kind, state.key))
        return states

    def parked_jobs(self, key: str, start: int = 0, count: int = 25) -> list[JobRecord]:
        """Jobs waiting for a slot of concurrency key `key`, the next to go first."""
        raw = self.redis.lrange(keys.limit_parked(key), -(start + count), -(start + 1))
        return [JobRecord(entry) for entry in reversed(raw)]

    def totals(self) -> dict[str, int]:
        """Headline numbers for `sidequest stats`: keys, slots held, jobs parked."""
        states = self.all()
        return {
            "concurrency_keys": sum(1 for s in states if s.kind == "concurrency"),
            "rate_keys": sum(1 for s in states if s.kind == "rate"),
            "slots_held": sum(s.in_use for s in states if s.kind == "concurrency"),
            "parked": sum(s.parked for s in states),
        }


def _per(spec: str) -> float:
    try:
        return float(spec.partition("/")[2])
    except ValueError:
        return 0.0


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
