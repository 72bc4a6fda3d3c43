"""Every Redis command the worker runtime sends, grouped by what it is for.

The runtime's threads call these methods; none of them builds keys or Lua calls
itself. Connection errors propagate: each thread's loop decides how to back off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, Literal

import redis

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.runtime.outcome import Ack, Failure


@dataclass(frozen=True)
class Exchanged:
    """What one exchange did.

    Attributes:
        fetched: jobs taken from the queues.
        refused: outcomes refused because their execution was recovered elsewhere.
        adopted: landed jobs now in the in-flight hash (their `field` is set).
        gone: landed jobs no longer in the landing list (recovered by another process).
    """

    fetched: list[Fetched]
    refused: int
    adopted: list[Fetched] = default(default_factory=list)
    gone: list[Fetched] = default(default_factory=list)


@dataclass
class Landing:
    """What an exchange does with the landing list (see waiter.py).

    Attributes:
        acks: acknowledgements of landed jobs not adopted yet; removed by payload.
        adopt: landed jobs to move into the in-flight hash, under fields chosen here.
    """

    acks: list[Ack] = default(default_factory=list)
    adopt: list[Fetched] = default(default_factory=list)


@dataclass(slots=True)
class Fetched:
    """One job this process holds, fetched into the in-flight hash or landed (waiter.py).

    `field` is "" while a landed job is not adopted into the hash yet.
    """

    field: str
    queue: str
    raw: bytes
    landed: bool = False


class LeaseLost(Exception):  # a state reported to the fetcher, not an error
    """Our lease expired: other processes may be recovering our jobs; beat before fetching.

    `args[0]` is the Exchanged of the same round trip: its outcomes and adoptions were
    applied, only the fetch was refused.
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


class WorkerStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.identity = identity
        self.settings = settings
        self.inflight_key = keys.inflight(identity)
        self.lease_key = keys.lease(identity)
        self.landing_key = keys.landing(identity)
        self._next_token = 1

    # -- fetching and finishing -------------------------------------------------------

    def exchange(
        self,
        acks: Sequence[Ack],
        failures: Sequence[Failure],
        limit: int,
        queues: Sequence[str],
        landing: Landing | None = None,
    ) -> Exchanged:
        """Finish `acks` and `failures`, then fetch up to `limit` jobs: one round trip.

        `landing` acknowledges and adopts the jobs queue waiters landed (see waiter.py).
        Outcomes of executions that were recovered by another process are refused
        (fencing) and counted in `refused`. Raises LeaseLost, after applying the
        outcomes, when the fetch was refused because our lease had expired.
        """
        landing = landing or Landing()
        processed_day, failed_day = keys.stat_days()
        first_token = self._next_token
        call = self._exchange_call(acks, limit, queues, processed_day, landing, first_token)
        if not failures:
            # The common case: a single EVALSHA, without a pipeline around it.
            reply = scripts.EXCHANGE(self.redis, *call)
            refused = 0
        else:
            batch = scripts.ScriptPipeline(self.redis)
            for failure in failures:
                self._queue_fail(batch, failure, processed_day, failed_day)
            batch.script(scripts.EXCHANGE, *call)
            results = batch.execute()
            refused = sum(1 for applied in results[:-1] if applied == 0)
            reply = results[-1]
        return self._read_exchange(reply, len(acks), refused, limit, landing, first_token)

    def skip_tokens(self) -> None:
        """After a failed exchange: the server may have used tokens we never heard of."""
        self._next_token += 1_000_000

    def _exchange_call(
        self,
        acks: Sequence[Ack],
        limit: int,
        queues: Sequence[str],
        day: str,
        landing: Landing,
        first_token: int,
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
        adoptions: list[scripts.Arg] = []
        for offset, job in enumerate(landing.adopt):
            adoptions.extend((keys.inflight_field(first_token + offset, job.queue), job.raw))
        script_keys = [
            self.lease_key,
            self.inflight_key,
            keys.STAT_PROCESSED,
            day,
            self.landing_key,
            *lock_keys,
            *(keys.queue(name) for name in queues),
        ]
        args: list[scripts.Arg] = [
            keys.STATS_TTL_SECONDS,
            len(plain),
            len(specials) // 3,
            limit,
            first_token + len(landing.adopt),
            len(lock_keys),
            len(landing.acks),
            len(landing.adopt),
            *plain,
            *specials,
            *(ack.job.raw for ack in landing.acks if ack.job is not None),
            *adoptions,
            *queues,
        ]
        return script_keys, args

    def _read_exchange(
        self,
        reply: list[Any],
        acks: int,
        refused: int,
        limit: int,
        landing: Landing,
        first_token: int,
    ) -> Exchanged:
        refused += acks + len(landing.acks) - int(reply[0])
        first_pair = 3 if landing.adopt else 2
        flags = ""
        if landing.adopt:
            flags = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
        adopted: list[Fetched] = []
        gone: list[Fetched] = []
        for offset, (job, flag) in enumerate(zip(landing.adopt, flags, strict=True)):
            if flag == "1":
                job.field = keys.inflight_field(first_token + offset, job.queue)
                adopted.append(job)
            else:
                gone.append(job)
        self._next_token = first_token + len(landing.adopt) + max(limit, 0)
        fetched = []
        for field_bytes, raw in zip(reply[first_pair::2], reply[first_pair + 1 :: 2], strict=True):
            name = field_bytes.decode()
            fetched.append(Fetched(name, keys.inflight_queue(name), raw))
        exchanged = Exchanged(fetched, refused, adopted, gone)
        if limit > 0 and int(reply[1]) == 0:
            raise LeaseLost(exchanged)
        return exchanged

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
        """Push jobs we hold back to the front of their queues, the first fetched running first.

        Jobs in the in-flight hash go back by field; landed jobs not adopted yet, from
        the landing list by payload.
        """
        entries = list(fetched)
        entries.reverse()
        held = [entry for entry in entries if entry.field and ":" in entry.field]
        landed = [entry for entry in entries if not entry.field]
        moved = 0
        if held:
            moved += int(
                scripts.REQUEUE(
                    self.redis,
                    [self.inflight_key, *(keys.queue(entry.queue) for entry in held)],
                    [entry.field for entry in held],
                )
            )
        if landed:
            moved += int(
                scripts.REQUEUE_LANDED(
                    self.redis,
                    [self.landing_key, *(keys.queue(entry.queue) for entry in landed)],
                    [entry.raw for entry in landed],
                )
            )
        return moved

    def landing_items(self) -> list[bytes]:
        items: list[bytes] = self.redis.lrange(self.landing_key, 0, -1)  # type: ignore[assignment]
        return items

    def mark_started(self, field: str) -> None:
        """Note that a job recovered before is running now (see recovery.py)."""
        self.redis.hset(self.inflight_key, keys.started_marker(field), "1")

    def unmark_started(self, field: str) -> None:
        self.redis.hdel(self.inflight_key, keys.started_marker(field))

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
        pipe.llen(self.landing_key)
        held, landed = pipe.execute()[-2:]
        if held == 0 and landed == 0:
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
            args.extend((entry.field, entry.mode, entry.jid, entry.job, entry.landed_raw))
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
