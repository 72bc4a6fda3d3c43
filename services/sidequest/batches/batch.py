"""Batch: a group of jobs with callbacks that fire exactly once (Sidekiq Pro's batches).

    batch = Batch("Monthly statements",
                  on_success=(StatementsMailedJob, [month]),   # every job succeeded
                  on_complete=(StatementsReportJob, [month]),  # every job succeeded or died
                  on_death=(AlertJob, ["statements"]))         # the first job that died
    with batch:
        for account_id in ids:
            BuildStatementJob.perform_later(account_id, month)
    Batch.find(batch.bid).status()

The jobs enqueued inside the block are pushed when it ends, in one call together with
the batch (collector.py). From then on every outcome is counted by the Lua script that
writes it (batch_lib.lua): a success by exchange.lua with its acknowledgement, a retry
or a death by fail.lua, a poison pill by recover.lua, an operator's kill by kill.lua.
The callback jobs are pushed by that same script call, guarded by a per-batch flag.

Reopening (`with Batch.find(bid):`, or `with self.batch:` inside a member's perform)
adds jobs while the batch is not complete; a batch created inside an open block of
another batch is its child, one pending member of it until the child completes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import redis

from sidequest import adapter, keys, payload
from sidequest.batches.collector import Collector
from sidequest.batches.status import BatchStatus
from sidequest.batches.store import BatchError, BatchNotFound, BatchStore, Block
from sidequest.errors import ConfigError
from sidequest.job import enqueuing
from sidequest.job.options import NO_OPTIONS

if TYPE_CHECKING:
    from sidequest.job.base import Job

#: a callback: a job class and its positional arguments
CallbackSpec = tuple["type[Job]", Sequence[Any]]


class Batch:
    def __init__(
        self,
        description: str = "",
        *,
        on_success: CallbackSpec | None = None,
        on_complete: CallbackSpec | None = None,
        on_death: CallbackSpec | None = None,
        parent: Batch | str | None = None,
        ttl: float | timedelta = keys.BATCH_TTL_SECONDS,
        client: redis.Redis | None = None,
    ):
        """A new batch, created in Redis when its first `with` block ends.

        Args:
            parent: The batch this one is a member of. By default, the batch whose `with`
                block is open around this one's, if any.
            ttl: How long the batch's data stays readable after it completed.
            client: The Redis to use; by default the current enqueue adapter's.
        """
        self.bid = payload.new_jid()
        self.description = description
        self._new = True
        self._parent = parent.bid if isinstance(parent, Batch) else (parent or "")
        self._client = client
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        self._fields: dict[str, str] = {"description": description, "ttl": str(int(seconds))}
        now = time.time()
        for event, spec in (
            ("success", on_success),
            ("complete", on_complete),
            ("death", on_death),
        ):
            if spec is not None:
                self._fields.update(_callback_fields(self.bid, event, spec, now))
        self._stack: list[tuple[ExitStack, Collector]] = []

    @classmethod
    def find(cls, bid: str, client: redis.Redis | None = None) -> Batch:
        """The batch `bid` as stored, to read or reopen.

        Raises:
            BatchNotFound: never created, or expired after completion.
        """
        batch = cls.existing(bid, client)
        status = batch.status()
        batch.description = status.description
        return batch

    @classmethod
    def existing(cls, bid: str, client: redis.Redis | None = None) -> Batch:
        """The batch `bid`, without reading Redis (a reopen checks that it exists)."""
        batch = cls.__new__(cls)
        batch.bid = bid
        batch.description = ""
        batch._new = False
        batch._parent = ""
        batch._client = client
        batch._fields = {}
        batch._stack = []
        return batch

    def __repr__(self) -> str:
        return f"<Batch {self.bid} {self.description!r}>"

    # -- reading ----------------------------------------------------------------------

    def status(self) -> BatchStatus:
        """Raises BatchNotFound when the batch does not exist (yet, or any more)."""
        found = self._store().status(self.bid)
        if found is None:
            raise BatchNotFound(f"batch {self.bid} does not exist (never created, or expired)")
        return found

    def members(self) -> dict[str, str]:
        """jid (or "b:<bid>" for a child batch) -> p, f, s or d (status.STATES)."""
        return self._store().members(self.bid)

    # -- adding jobs ------------------------------------------------------------------

    def __enter__(self) -> Batch:
        scoped = adapter.scoped_adapter()
        outer = scoped if isinstance(scoped, Collector) else None
        parent = self._parent
        if self._new and not parent and outer is not None:
            parent = outer.block.bid
        block = Block(self.bid, self._new, parent, dict(self._fields) if self._new else {})
        collector = Collector(block, outer)
        stack = ExitStack()
        stack.enter_context(adapter.scoped(collector))
        self._stack.append((stack, collector))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, collector = self._stack.pop()
        stack.close()
        if kind is not None:
            return  # nothing pushed: the block failed, as Sidekiq Pro drops its jobs
        if collector.outer is not None:
            # The outermost block pushes everything in one call.
            collector.outer.inner.extend(collector.blocks())
        else:
            self._store().push(collector.blocks())
        self._new = False

    def _store(self) -> BatchStore:
        return BatchStore(self._redis())

    def _redis(self) -> redis.Redis:
        if self._client is None:
            current = adapter.process_adapter()
            client = getattr(current, "redis", None)
            if not isinstance(client, redis.Redis):
                raise ConfigError(
                    "batches need Redis: call sidequest.configure(redis_url=...) or pass "
                    "client= to Batch"
                )
            self._client = client
        return self._client


def _callback_fields(bid: str, event: str, spec: CallbackSpec, now: float) -> dict[str, str]:
    """The hash fields of one callback: its payload without the closing brace, its queue."""
    job_class, args = spec
    checked, named = enqueuing.checked_call(job_class, list(args), {})
    job = enqueuing.prepare(job_class, checked, NO_OPTIONS, now, named)
    job.payload["batch_callback"] = {"bid": bid, "event": event}
    job.payload.pop("enqueued_at", None)  # batch_lib.lua writes it when the callback fires
    encoded = payload.encode(job.payload)
    if not encoded.endswith("}"):
        raise BatchError(f"cannot store the {event} callback of batch {bid}")
    return {f"cb:{event}": encoded[:-1], f"cbq:{event}": job.queue_name}
