"""The recovery's gateway: the jobs of dead processes (recovery.py).

1. take the short lock that lets one process scan per interval
2. read the owners, their leases, in-flight hashes and landing lists, and how often
   their jobs were recovered before
3. move a dead owner's jobs back to their queues or to the dead set (recover.lua)
4. prune `processes` of entries whose hash expired
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.runtime.store import text

# What recover.lua does with a job: back to the front of its queue, to the back (a job
# recovered before, kept away from the jobs it died with), or to the dead set.
RecoveryMode = Literal["front", "back", "dead"]


@dataclass(frozen=True)
class RecoveryEntry:
    field: str  # "" for a job in the landing list
    queue: str
    jid: str
    mode: RecoveryMode
    job: str | bytes  # the payload to push or bury
    landed_raw: bytes = b""  # a landed job as it sits in the landing list
    bid: str = ""  # a buried job's batch, where its death counts
    member: str = ""  # its jid in that batch


class RecoveryStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.identity = identity
        self.settings = settings

    def try_recovery_lock(self, ttl: float) -> bool:
        return bool(self.redis.set(keys.RECOVERY_LOCK, self.identity, nx=True, px=int(ttl * 1000)))

    def owners(self) -> list[str]:
        return sorted(text(member) for member in self.redis.smembers(keys.OWNERS))

    def leases(self, identities: Sequence[str]) -> list[bool]:
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.exists(keys.lease(identity))
        return [bool(found) for found in pipe.execute()]

    def recovery_counts(self, jids: Sequence[str]) -> dict[str, int]:
        if not jids:
            return {}
        values = self.redis.hmget(keys.RECOVERIES, list(jids))
        return {
            jid: int(value) for jid, value in zip(jids, values, strict=True) if value is not None
        }

    def recover(self, identity: str, entries: Sequence[RecoveryEntry]) -> int:
        """Move a dead process's jobs; -1 when it turned out to be alive."""
        now = time.time()
        args: list[scripts.Arg] = [
            identity,
            repr(now),
            self.settings.dead_max_jobs,
            repr(now - self.settings.dead_timeout),
            keys.RECOVERIES_TTL_SECONDS,
            keys.STATS_TTL_SECONDS,
            *keys.batch_context(now),
        ]
        for entry in entries:
            args.extend(
                (
                    entry.field,
                    entry.mode,
                    entry.jid,
                    entry.job,
                    entry.landed_raw,
                    entry.bid,
                    entry.member,
                )
            )
        _, failed_day = keys.stat_days()
        script_keys = [
            keys.lease(identity),
            keys.inflight(identity),
            keys.OWNERS,
            keys.DEAD,
            keys.RECOVERIES,
            keys.STAT_FAILED,
            failed_day,
            keys.landing(identity),
            *(keys.queue(entry.queue) for entry in entries),
        ]
        return int(scripts.RECOVER(self.redis, script_keys, args))

    def landing_of(self, identity: str) -> list[bytes]:
        items: list[bytes] = self.redis.lrange(keys.landing(identity), 0, -1)  # type: ignore[assignment]
        return items

    def prune_processes(self) -> int:
        """Drop `processes` members whose hash expired (Sidekiq's ProcessSet cleanup)."""
        members = [text(member) for member in self.redis.smembers(keys.PROCESSES)]
        if not members:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            pipe.exists(keys.process(member))
        gone = [m for m, alive in zip(members, pipe.execute(), strict=True) if not alive]
        if gone:
            self.redis.srem(keys.PROCESSES, *gone)
        return len(gone)

    def inflight_of(self, identity: str) -> dict[str, bytes]:
        """Another process's in-flight hash: job fields and start markers."""
        raw: dict[bytes, bytes] = self.redis.hgetall(keys.inflight(identity))  # type: ignore[assignment]
        return {text(field): value for field, value in raw.items()}
