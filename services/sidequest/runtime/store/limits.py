"""The limiters' gateway: slots, parked jobs and start logs of concurrency and rate limits.

1. exchange: in one round trip, give back the slots of finished jobs (limit_release.lua,
   which wakes parked jobs) and admit jobs about to start, parking or throttling the
   refused ones out of this process (limit_acquire.lua)
2. refresh: keep the slots of this process's running jobs (limit_refresh.lua)
3. sweep: wake parked jobs whose slots no release gave back (limit_sweep.lua)
4. prune: drop keys nobody uses any more from the index of limits (limit_prune.lua)
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


@dataclass(slots=True)
class Admission:
    """A job to admit: where it is held (its in-flight field, or "" and its landed
    payload), the holder id of this execution and its limits."""

    field: str
    raw: bytes
    holder: str
    bounds: Sequence[Bound]


@dataclass(slots=True)
class Acquired:
    verdict: Verdict
    #: Redis clock: when the verdict was reached, or the wake-up of a throttled job
    at: float
    #: admitted: jobs parked on its concurrency keys at that moment
    parked: int = 0


_HEAD_KEYS = (
    keys.SCHEDULE,
    keys.LIMITS_CONCURRENCY,
    keys.LIMITS_RATE,
    keys.LIMITS_WAITING,
)


class LimitStore:
    def __init__(self, client: redis.Redis, identity: str):
        self.redis = client
        self.inflight_key = keys.inflight(identity)
        self.landing_key = keys.landing(identity)

    def exchange(
        self, releases: Sequence[tuple[str, Bound]], admissions: Sequence[Admission]
    ) -> list[Acquired]:
        """Give back (holder, concurrency bound) slots, then admit `admissions`: one
        round trip; returns a verdict per admission."""
        pipe = scripts.ScriptPipeline(self.redis)
        if releases:
            pipe.script(scripts.LIMIT_RELEASE, *_release_call(releases))
        if admissions:
            pipe.script(scripts.LIMIT_ACQUIRE, *self._acquire_call(admissions))
        if not releases and not admissions:
            return []
        results = pipe.execute()
        if not admissions:
            return []
        reply = results[-1]
        return [
            Acquired(Verdict(int(reply[i])), float(text(reply[i + 1])), int(reply[i + 2]))
            for i in range(0, len(reply), 3)
        ]

    def _acquire_call(self, admissions: Sequence[Admission]) -> tuple[list[str], list[scripts.Arg]]:
        script_keys = [self.inflight_key, self.landing_key, *_HEAD_KEYS]
        args: list[scripts.Arg] = [
            keys.LEASE_PREFIX,
            keys.SCHEDULE_WAKEUP_CHANNEL,
            len(admissions),
        ]
        for admission in admissions:
            args += [admission.field, admission.raw, admission.holder, len(admission.bounds)]
            for bound in admission.bounds:
                if bound.kind == "concurrency":
                    script_keys += [keys.limit_slots(bound.key), keys.limit_parked(bound.key)]
                    args += ["c", bound.key, bound.amount, repr(bound.seconds)]
                else:
                    script_keys.append(keys.limit_starts(bound.key))
                    args += ["r", bound.key, bound.amount, repr(bound.seconds)]
        return script_keys, args

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

    def prune(self, cursors: tuple[int, int], count: int = 100) -> tuple[int, int]:
        """Prune one batch of each index from `cursors` (HSCAN's; (0, 0) to start);
        returns the cursors to go on from, (0, 0) once both indexes were walked."""
        concurrency_cursor, concurrency = self.redis.hscan(
            keys.LIMITS_CONCURRENCY, cursors[0], count=count
        )
        rate_cursor, rate = self.redis.hscan(keys.LIMITS_RATE, cursors[1], count=count)
        concurrency_keys = [text(name) for name in concurrency]
        rate_keys = [text(name) for name in rate]
        if concurrency_keys or rate_keys:
            script_keys = [keys.LIMITS_CONCURRENCY, keys.LIMITS_RATE]
            for name in concurrency_keys:
                script_keys += [keys.limit_slots(name), keys.limit_parked(name)]
            script_keys += [keys.limit_starts(name) for name in rate_keys]
            scripts.LIMIT_PRUNE(
                self.redis, script_keys, [len(concurrency_keys), *concurrency_keys, *rate_keys]
            )
        return int(concurrency_cursor), int(rate_cursor)


def _release_call(releases: Sequence[tuple[str, Bound]]) -> tuple[list[str], list[scripts.Arg]]:
    script_keys = [keys.LIMITS_WAITING, keys.QUEUES]
    args: list[scripts.Arg] = [keys.QUEUE_PREFIX]
    for holder, bound in releases:
        script_keys += [keys.limit_slots(bound.key), keys.limit_parked(bound.key)]
        args += [holder, bound.key, bound.amount]
    return script_keys, args
