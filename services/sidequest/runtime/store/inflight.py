"""The fetcher's gateway: this process's in-flight hash and landing list.

1. exchange: write finished jobs' outcomes, adopt landed jobs and fetch new ones, in
   one round trip (exchange.lua, plus fail.lua per failure in the same pipeline)
2. requeue jobs we hold (quiet, stop, stray entries found by the fetcher's reconcile)
3. read our hash and landing list for that reconcile
4. note the runs of jobs recovered before (the executor's RunningMarks)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.outcome import Ack, Batch, Failure
from sidequest.runtime.store import text

_IN_HASH = (Holding.FETCHED, Holding.ADOPTED)
# exchange.lua reads the batch context only for linked acknowledgements.
_NO_BATCH_CONTEXT = ("", "", "", "", "")


@dataclass(slots=True)
class Exchanged:
    """What one exchange did.

    Attributes:
        fetched: jobs taken from the queues.
        refused: outcomes Redis refused because their execution was recovered elsewhere.
        adopted: for each job of the batch's `adopt`, its new in-flight field, or ""
            when it was no longer in the landing list (recovered by another process).
        lease_held: False when our lease had expired: the outcomes and adoptions were
            applied, but nothing was fetched (other processes may be recovering our
            jobs; beat before fetching again).
    """

    fetched: list[Fetched]
    refused: int
    adopted: list[str]
    lease_held: bool


class InflightStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.settings = settings
        self.inflight_key = keys.inflight(identity)
        self.lease_key = keys.lease(identity)
        self.landing_key = keys.landing(identity)
        self._next_token = 1

    def exchange(self, batch: Batch, limit: int, queues: Sequence[str]) -> Exchanged:
        """Write `batch` (landing.py), then fetch up to `limit` jobs: one round trip.

        Outcomes of executions that were recovered by another process are refused
        (fencing) and counted in `refused`.
        """
        processed_day, failed_day = keys.stat_days()
        first_token = self._next_token
        adopt_fields = [
            keys.inflight_field(first_token + offset, job.queue)
            for offset, job in enumerate(batch.adopt)
        ]
        call = self._exchange_call(batch, adopt_fields, first_token, limit, queues, processed_day)
        if not batch.failures:
            # The common case: a single EVALSHA, without a pipeline around it.
            reply = scripts.EXCHANGE(self.redis, *call)
            refused = 0
        else:
            pipe = scripts.ScriptPipeline(self.redis)
            for failure in batch.failures:
                self._queue_fail(pipe, failure, processed_day, failed_day)
            pipe.script(scripts.EXCHANGE, *call)
            results = pipe.execute()
            refused = sum(1 for applied in results[:-1] if applied == 0)
            reply = results[-1]
        self._next_token = first_token + len(adopt_fields) + max(limit, 0)
        return _read_exchange(reply, batch, adopt_fields, refused, limit)

    def skip_tokens(self) -> None:
        """After a failed exchange: the server may have used tokens we never heard of."""
        self._next_token += 1_000_000

    def _exchange_call(
        self,
        batch: Batch,
        adopt_fields: list[str],
        first_token: int,
        limit: int,
        queues: Sequence[str],
        day: str,
    ) -> tuple[list[str], list[scripts.Arg]]:
        acks = batch.acks
        plain = [ack.job.field for ack in acks if not (ack.unique_digest or ack.marked)]
        lock_keys: list[str] = []
        specials: list[scripts.Arg] = []
        for ack in acks:
            if ack.unique_digest:
                lock_keys.append(keys.unique_lock(ack.unique_digest))
                specials.extend((ack.job.field, len(lock_keys), ack.jid))
            elif ack.marked:
                specials.extend((ack.job.field, 0, ""))
        linked: list[scripts.Arg] = []
        for ack in batch.linked:
            self._linked_entry(linked, lock_keys, ack)
        adoptions: list[scripts.Arg] = []
        for field, job in zip(adopt_fields, batch.adopt, strict=True):
            adoptions.extend((field, job.raw))
        script_keys = [
            self.lease_key,
            self.inflight_key,
            keys.STAT_PROCESSED,
            day,
            self.landing_key,
            keys.PAUSED,
            *lock_keys,
            *(keys.queue(name) for name in queues),
        ]
        args: list[scripts.Arg] = [
            keys.STATS_TTL_SECONDS,
            len(plain),
            len(specials) // 3,
            limit,
            first_token + len(adopt_fields),
            len(lock_keys),
            len(batch.landed_acks),
            len(adopt_fields),
            len(batch.linked),
            *(keys.batch_context(time.time()) if batch.linked else _NO_BATCH_CONTEXT),
            *plain,
            *specials,
            *(ack.job.raw for ack in batch.landed_acks),
            *linked,
            *adoptions,
            *queues,
        ]
        return script_keys, args

    @staticmethod
    def _linked_entry(entries: list[scripts.Arg], lock_keys: list[str], ack: Ack) -> None:
        """One linked acknowledgement's 9 values (exchange.lua), its lock added to `lock_keys`."""
        link = ack.link
        assert link is not None
        lock = 0
        if ack.unique_digest:
            lock_keys.append(keys.unique_lock(ack.unique_digest))
            lock = len(lock_keys)
        job = ack.job
        if job.state is Holding.LANDED:
            entries.extend(("l", job.raw))
        else:
            entries.extend(("m" if ack.marked else "f", job.field))
        entries.extend(
            (lock, ack.jid, link.bid, link.jid, link.next_queue, link.next_payload, link.next_jid)
        )

    def _queue_fail(
        self, pipe: scripts.ScriptPipeline, failure: Failure, processed_day: str, failed_day: str
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
        # A job in no batch sends no batch arguments: fail.lua then skips that part.
        batch_args: tuple[scripts.Arg, ...] = ()
        if failure.bid:
            batch_args = (failure.bid, failure.jid, *keys.batch_context(time.time()))
        pipe.script(
            scripts.FAIL,
            script_keys,
            [
                failure.job.field,
                failure.mode,
                repr(failure.score),
                failure.payload,
                keys.STATS_TTL_SECONDS,
                self.settings.dead_max_jobs,
                repr(time.time() - self.settings.dead_timeout),
                failure.jid,
                keys.SCHEDULE_WAKEUP_CHANNEL if failure.mode == "retry" else "",
                *batch_args,
            ],
        )

    def requeue(self, fetched: Iterable[Fetched]) -> int:
        """Push jobs we hold back to the front of their queues, the first fetched running first.

        Jobs in the in-flight hash go back by field; landed jobs not adopted yet, from
        the landing list by payload; gone ones are another process's now.
        """
        entries = list(fetched)
        entries.reverse()
        held = [entry for entry in entries if entry.state in _IN_HASH]
        landed = [entry for entry in entries if entry.state is Holding.LANDED]
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

    def inflight(self) -> dict[str, bytes]:
        """Our in-flight hash: job fields and start markers."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self.inflight_key)  # type: ignore[assignment]
        return {text(field): value for field, value in raw.items()}


def _read_exchange(
    reply: list[Any], batch: Batch, adopt_fields: list[str], refused: int, limit: int
) -> Exchanged:
    refused += len(batch.acks) + len(batch.landed_acks) + len(batch.linked) - int(reply[0])
    adopted: list[str] = []
    first_pair = 2
    if adopt_fields:
        first_pair = 3
        flags = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
        adopted = [
            field if flag == "1" else "" for field, flag in zip(adopt_fields, flags, strict=True)
        ]
    queue_of = keys.inflight_queue
    fetched = []
    for field_bytes, raw in zip(reply[first_pair::2], reply[first_pair + 1 :: 2], strict=True):
        field = field_bytes.decode()
        fetched.append(Fetched(field, queue_of(field), raw))
    lease_held = limit <= 0 or int(reply[1]) != 0
    return Exchanged(fetched, refused, adopted, lease_held)
