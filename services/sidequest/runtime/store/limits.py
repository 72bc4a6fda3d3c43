"""The limiters' gateway: slots, parked jobs and start logs of concurrency and rate limits.

1. acquire: admit a job about to start, or park / throttle it out of this process in
   the same call (limit_acquire.lua)
2. release: give back a finished job's slots and wake parked jobs (limit_release.lua)
3. refresh: keep the slots of this process's running jobs (limit_refresh.lua)
4. sweep: wake parked jobs whose slots no release gave back (limit_sweep.lua)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from sidequest import keys, scripts
from sidequest.runtime.store import text


class Verdict(enum.Enum):
    ADMITTED = 1
    PARKED = 0
    THROTTLED = 2
    #: the job was no longer held by this process (recovered elsewhere): nothing done
    GONE = -1


@dataclass(frozen=True, slots=True)
class Bound:
    """One limit applied to one job: its kind, the key its key function built, how many
    slots or starts, and the slot lapse or the window in seconds."""

    kind: Literal["concurrency", "rate"]
    key: str
    amount: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Acquired:
    verdict: Verdict
    #: Redis clock: when the verdict was reached, or the wake-up of a throttled job
    at: float


class LimitStore:
    def __init__(self, client: redis.Redis, identity: str):
        self.redis = client
        self.inflight_key = keys.inflight(identity)
        self.landing_key = keys.landing(identity)

    def acquire(
        self,
        field: str,
        held: bytes,
        park_payload: str,
        throttle_payload: str,
        holder: str,
        bounds: Sequence[Bound],
    ) -> Acquired:
        """Admit the job held under `field` (or, with "", the landed payload `held`)."""
        script_keys = [
            self.inflight_key,
            self.landing_key,
            keys.SCHEDULE,
            keys.LIMITS_CONCURRENCY,
            keys.LIMITS_RATE,
            keys.LIMITS_WAITING,
        ]
        args: list[scripts.Arg] = [
            field,
            held,
            park_payload,
            throttle_payload,
            keys.LEASE_PREFIX,
            holder,
            keys.SCHEDULE_WAKEUP_CHANNEL,
            len(bounds),
        ]
        for bound in bounds:
            if bound.kind == "concurrency":
                script_keys += [keys.limit_slots(bound.key), keys.limit_parked(bound.key)]
                args += ["c", bound.key, bound.amount, repr(bound.seconds)]
            else:
                script_keys.append(keys.limit_starts(bound.key))
                args += ["r", bound.key, bound.amount, repr(bound.seconds)]
        reply = scripts.LIMIT_ACQUIRE(self.redis, script_keys, args)
        return Acquired(Verdict(int(reply[0])), float(text(reply[1])))

    def release(self, holder: str, bounds: Sequence[Bound]) -> int:
        """Give back `holder`'s slots; returns how many parked jobs went back to queues."""
        script_keys = [keys.LIMITS_WAITING, keys.QUEUES]
        args: list[scripts.Arg] = [holder, keys.QUEUE_PREFIX]
        for bound in bounds:
            if bound.kind == "concurrency":
                script_keys += [keys.limit_slots(bound.key), keys.limit_parked(bound.key)]
                args += [bound.key, bound.amount]
        if len(script_keys) == 2:
            return 0
        return int(scripts.LIMIT_RELEASE(self.redis, script_keys, args))

    def refresh(self, holdings: Sequence[tuple[str, Bound]]) -> None:
        """Move the lapse of each (holder, concurrency bound) to now + its duration."""
        if not holdings:
            return
        script_keys = [keys.limit_slots(bound.key) for _, bound in holdings]
        args: list[scripts.Arg] = []
        for holder, bound in holdings:
            args += [holder, repr(bound.seconds)]
        scripts.LIMIT_REFRESH(self.redis, script_keys, args)

    def sweep(self) -> int:
        """Wake parked jobs of every key with free slots; returns how many went back."""
        waiting = [text(name) for name in self.redis.smembers(keys.LIMITS_WAITING)]
        if not waiting:
            return 0
        pipe = scripts.ScriptPipeline(self.redis)
        for name in waiting:
            pipe.script(
                scripts.LIMIT_SWEEP,
                [
                    keys.LIMITS_WAITING,
                    keys.QUEUES,
                    keys.LIMITS_CONCURRENCY,
                    keys.limit_slots(name),
                    keys.limit_parked(name),
                ],
                [name, keys.LEASE_PREFIX, keys.QUEUE_PREFIX],
            )
        return sum(int(woken) for woken in pipe.execute())
