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
from dataclasses import field as default
from typing import Any

import redis

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.outcome import Ack, Failure
from sidequest.runtime.store import text


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


class LeaseLost(Exception):  # a state reported to the fetcher, not an error
    """Our lease expired: other processes may be recovering our jobs; beat before fetching.

    `args[0]` is the Exchanged of the same round trip: its outcomes and adoptions were
    applied, only the fetch was refused.
    """


class InflightStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.settings = settings
        self.inflight_key = keys.inflight(identity)
        self.lease_key = keys.lease(identity)
        self.landing_key = keys.landing(identity)
        self._next_token = 1

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

    def inflight(self) -> dict[str, bytes]:
        """Our in-flight hash: job fields and start markers."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self.inflight_key)  # type: ignore[assignment]
        return {text(field): value for field, value in raw.items()}
