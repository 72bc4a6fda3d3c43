"""Every Redis command the worker runtime sends, grouped by what it is for.

The runtime's threads call these methods; none of them builds keys or Lua calls
itself. Connection errors propagate: each thread's loop decides how to back off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.runtime.outcome import Ack, Failure


@dataclass(frozen=True)
class Exchanged:
    """What one exchange did: the jobs fetched, and how many outcomes were refused."""

    fetched: list[Fetched]
    refused: int


@dataclass(slots=True)
class Fetched:
    """One job taken from a queue into the in-flight hash."""

    field: str
    queue: str
    raw: bytes


class LeaseLost(Exception):  # a state reported to the fetcher, not an error
    """Our lease expired: other processes may be recovering our jobs; beat before fetching.

    `args[0]` is the number of outcomes refused in the same exchange.
    """


@dataclass(frozen=True)
class Beat:
    """The heartbeat's view of the process, written to Sidekiq's process hash."""

    info: str
    busy: int
    quiet: bool
    rss_kb: int
    rtt_us: int
    concurrency: int
    work: dict[str, str]
    legacy_work: dict[str, str]


@dataclass(frozen=True)
class RecoveryEntry:
    field: str
    queue: str
    jid: str
    mode: str  # "front", "back" or "dead"
    job: str  # the payload to push or bury


class WorkerStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.identity = identity
        self.settings = settings
        self.inflight_key = keys.inflight(identity)
        self.lease_key = keys.lease(identity)
        self._next_token = 1

    # -- fetching and finishing -------------------------------------------------------

    def exchange(
        self, acks: Sequence[Ack], failures: Sequence[Failure], limit: int, queues: Sequence[str]
    ) -> Exchanged:
        """Finish `acks` and `failures`, then fetch up to `limit` jobs: one round trip.

        Outcomes of executions that were recovered by another process are refused
        (fencing) and counted in `refused`. Raises LeaseLost, after applying the
        outcomes, when the fetch was refused because our lease had expired.
        """
        processed_day, failed_day = _daily_keys()
        if not failures:
            # The common case: a single EVALSHA, without a pipeline around it.
            reply = scripts.EXCHANGE(
                self.redis, *self._exchange_call(acks, limit, queues, processed_day)
            )
            return self._read_exchange(reply, len(acks), 0, limit)
        batch = scripts.ScriptPipeline(self.redis)
        for failure in failures:
            self._queue_fail(batch, failure, processed_day, failed_day)
        batch.script(scripts.EXCHANGE, *self._exchange_call(acks, limit, queues, processed_day))
        results = batch.execute()
        refused = sum(1 for applied in results[:-1] if applied == 0)
        return self._read_exchange(results[-1], len(acks), refused, limit)

    def _exchange_call(
        self, acks: Sequence[Ack], limit: int, queues: Sequence[str], day: str
    ) -> tuple[list[str], list[scripts.Arg]]:
        plain = [ack.field for ack in acks if not (ack.unique_digest or ack.marked)]
        lock_keys: list[str] = []
        specials: list[scripts.Arg] = []
        for ack in acks:
            if ack.unique_digest:
                lock_keys.append(keys.unique_lock(ack.unique_digest))
                specials.extend((ack.field, len(lock_keys), ack.jid))
            elif ack.marked:
                specials.extend((ack.field, 0, ""))
        first_token = self._next_token
        if limit > 0:
            self._next_token += limit
        script_keys = [
            self.lease_key,
            self.inflight_key,
            keys.STAT_PROCESSED,
            day,
            *lock_keys,
            *(keys.queue(name) for name in queues),
        ]
        args: list[scripts.Arg] = [
            keys.STATS_TTL_SECONDS,
            len(plain),
            len(specials) // 3,
            limit,
            first_token,
            len(lock_keys),
            *plain,
            *specials,
            *queues,
        ]
        return script_keys, args

    @staticmethod
    def _read_exchange(reply: list[Any], acks: int, refused: int, limit: int) -> Exchanged:
        refused += acks - int(reply[0])
        if limit > 0 and int(reply[1]) == 0:
            raise LeaseLost(refused)
        fetched = []
        for field_bytes, raw in zip(reply[2::2], reply[3::2], strict=True):
            field = field_bytes.decode()
            fetched.append(Fetched(field, field[field.index(":") + 1 :], raw))
        return Exchanged(fetched, refused)

    def _queue_fail(
        self, batch: scripts.ScriptPipeline, failure: Failure, processed_day: str, failed_day: str
    ) -> None:
        target = keys.RETRY if failure.mode == "retry" else keys.DEAD
        script_keys = [
            self.inflight_key,
            target,
            keys.STAT_PROCESSED,
            keys.STAT_FAILED,
            processed_day,
            failed_day,
        ]
        if failure.unique_digest:
            script_keys.append(keys.unique_lock(failure.unique_digest))
        batch.script(
            scripts.FAIL,
            script_keys,
            [
                failure.field,
                failure.mode,
                repr(failure.score),
                failure.payload,
                keys.STATS_TTL_SECONDS,
                self.settings.dead_max_jobs,
                repr(time.time() - self.settings.dead_timeout),
                failure.jid,
                keys.SCHEDULE_WAKEUP_CHANNEL if failure.mode == "retry" else "",
            ],
        )

    def requeue(self, fetched: Iterable[Fetched]) -> int:
        """Push jobs we hold back to the front of their queues, the first fetched running first."""
        entries = list(fetched)
        if not entries:
            return 0
        entries.reverse()
        moved = scripts.REQUEUE(
            self.redis,
            [self.inflight_key, *(keys.queue(entry.queue) for entry in entries)],
            [entry.field for entry in entries],
        )
        return int(moved)

    def mark_started(self, field: str) -> None:
        """Note that a job recovered before is running now (see recovery.py)."""
        self.redis.hset(self.inflight_key, "started:" + field, "1")

    def unmark_started(self, field: str) -> None:
        self.redis.hdel(self.inflight_key, "started:" + field)

    def inflight(self, identity: str | None = None) -> dict[str, bytes]:
        raw: dict[bytes, bytes] = self.redis.hgetall(keys.inflight(identity or self.identity))  # type: ignore[assignment]
        return {_text(field): value for field, value in raw.items()}

    # -- heartbeat ----------------------------------------------------------------------

    def beat(self, beat: Beat) -> str | None:
        """Write the heartbeat and renew the lease; returns a pending signal, if any."""
        identity = self.identity
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(keys.PROCESSES, identity)
        # Owners before the lease: whoever sees our lease must also see us as an owner.
        pipe.sadd(keys.OWNERS, identity)
        pipe.set(self.lease_key, "1", px=int(self.settings.heartbeat_timeout * 1000))
        pipe.hset(
            keys.process(identity),
            mapping={
                "info": beat.info,
                "busy": beat.busy,
                "beat": repr(time.time()),
                "quiet": "true" if beat.quiet else "false",
                "rss": beat.rss_kb,
                "rtt_us": beat.rtt_us,
                "concurrency": beat.concurrency,
            },
        )
        pipe.expire(keys.process(identity), keys.PROCESS_TTL_SECONDS)
        for key, work in (
            (keys.work(identity), beat.work),
            (keys.legacy_workers(identity), beat.legacy_work),
        ):
            pipe.delete(key)
            if work:
                pipe.hset(key, mapping=work)  # type: ignore[arg-type]
                pipe.expire(key, keys.PROCESS_TTL_SECONDS)
        pipe.rpop(keys.signals(identity))
        signal = pipe.execute()[-1]
        return signal.decode() if isinstance(signal, bytes) else None

    def ping_us(self) -> int:
        started = time.perf_counter()
        self.redis.ping()
        return int((time.perf_counter() - started) * 1_000_000)

    def clear_process(self) -> None:
        """Remove our heartbeat at a clean exit (Sidekiq's clear_heartbeat, plus our lease)."""
        identity = self.identity
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(keys.PROCESSES, identity)
        pipe.delete(keys.process(identity), keys.work(identity), keys.legacy_workers(identity))
        pipe.delete(self.lease_key)
        pipe.hlen(self.inflight_key)
        left = pipe.execute()[-1]
        if left == 0:
            self.redis.srem(keys.OWNERS, identity)

    # -- recovery of dead processes -----------------------------------------------------

    def try_recovery_lock(self, ttl: float) -> bool:
        return bool(self.redis.set(keys.RECOVERY_LOCK, self.identity, nx=True, px=int(ttl * 1000)))

    def owners(self) -> list[str]:
        return sorted(_text(member) for member in self.redis.smembers(keys.OWNERS))

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
        ]
        for entry in entries:
            args.extend((entry.field, entry.mode, entry.jid, entry.job))
        _, failed_day = _daily_keys()
        script_keys = [
            keys.lease(identity),
            keys.inflight(identity),
            keys.OWNERS,
            keys.DEAD,
            keys.RECOVERIES,
            keys.STAT_FAILED,
            failed_day,
            *(keys.queue(entry.queue) for entry in entries),
        ]
        return int(scripts.RECOVER(self.redis, script_keys, args))

    def prune_processes(self) -> int:
        """Drop `processes` members whose hash expired (Sidekiq's ProcessSet cleanup)."""
        members = [_text(member) for member in self.redis.smembers(keys.PROCESSES)]
        if not members:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            pipe.exists(keys.process(member))
        gone = [m for m, alive in zip(members, pipe.execute(), strict=True) if not alive]
        if gone:
            self.redis.srem(keys.PROCESSES, *gone)
        return len(gone)

    # -- scheduler ----------------------------------------------------------------------

    def earliest_due(self) -> float | None:
        """The lowest score across `schedule` and `retry`, or None when both are empty."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.SCHEDULE, 0, 0, withscores=True)
        pipe.zrange(keys.RETRY, 0, 0, withscores=True)
        scores = [entries[0][1] for entries in pipe.execute() if entries]
        return min(scores) if scores else None

    def due(self, set_key: str, now: float, limit: int) -> list[bytes]:
        members = self.redis.zrangebyscore(set_key, "-inf", repr(now), start=0, num=limit)
        return [m if isinstance(m, bytes) else str(m).encode() for m in members]

    def promote(self, set_key: str, moves: Sequence[tuple[bytes, str, str]]) -> int:
        """Move (member, queue, payload) triples from `set_key` onto their queues."""
        if not moves:
            return 0
        args: list[scripts.Arg] = []
        for member, queue, job in moves:
            args.extend((member, queue, job))
        script_keys = [set_key, keys.QUEUES, *(keys.queue(queue) for _, queue, _ in moves)]
        return int(scripts.PROMOTE(self.redis, script_keys, args))

    def bury(self, set_key: str, member: bytes, dead_payload: str) -> None:
        """Move a member that is not a job from `set_key` to the dead set, wrapped."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(set_key, member)
        pipe.zadd(keys.DEAD, {dead_payload: now})
        pipe.zremrangebyscore(keys.DEAD, "-inf", repr(now - self.settings.dead_timeout))
        pipe.zremrangebyrank(keys.DEAD, 0, -(self.settings.dead_max_jobs + 1))
        pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _daily_keys() -> tuple[str, str]:
    now = datetime.now(UTC)
    return keys.stat_daily("processed", now), keys.stat_daily("failed", now)


def info_json(values: dict[str, Any]) -> str:
    return json.dumps(values, separators=(",", ":"))
