"""The batches' gateway to Redis: push blocks of jobs, read batches and their members.

1. push: create or reopen batches and push their jobs (batch_push.lua), one call
2. read one batch, its members, the listing, and the cluster-wide counters
Used by Batch (client side), the CLI, the dashboard and the metrics exporter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from sidequest import keys, payload, scripts
from sidequest.batches.status import BatchStatus
from sidequest.errors import SidequestError
from sidequest.payload import JobDict


class BatchError(SidequestError):
    """A batch could not be created or reopened (complete, missing, already created)."""


class BatchNotFound(BatchError):
    """No such batch: never created, or expired after completion."""


@dataclass
class Block:
    """One batch's part of a push: a new batch with its hash fields, or a reopened one."""

    bid: str
    new: bool
    parent: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    jobs: list[tuple[JobDict, float | None]] = field(default_factory=list)


_REASONS = {
    "exists": "batch {bid} exists already",
    "missing": "batch {bid} does not exist (never created, or expired)",
    "complete": "batch {bid} is complete: no job can be added to it",
    "parent": "the parent of batch {bid} is missing or complete",
}


class BatchStore:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def push(self, blocks: Sequence[Block]) -> None:
        """Create or reopen the batches of `blocks` (outermost first) and push their jobs.

        Raises:
            BatchError: nothing was written; the message says which batch and why.
        """
        now = time.time()
        args: list[scripts.Arg] = [
            *keys.batch_context(now),
            len(blocks),
            keys.SCHEDULE_WAKEUP_CHANNEL,
        ]
        for block in blocks:
            args.extend((block.bid, "new" if block.new else "open", block.parent))
            args.append(len(block.fields))
            for name, value in block.fields.items():
                args.extend((name, value))
            args.append(len(block.jobs))
            for job, at in block.jobs:
                if at is None or at <= now:
                    job["enqueued_at"] = now
                    score = ""
                else:
                    job.pop("enqueued_at", None)
                    score = repr(at)
                args.extend((str(job["jid"]), str(job["queue"]), payload.encode(job), score))
        reply = scripts.BATCH_PUSH(self.redis, [keys.SCHEDULE, keys.BATCH_INDEX], args)
        if int(reply[0]) != 1:
            bid, reason = _text(reply[1]), _text(reply[2])
            error = BatchNotFound if reason == "missing" else BatchError
            raise error(_REASONS.get(reason, "batch {bid}: " + reason).format(bid=bid))

    def status(self, bid: str) -> BatchStatus | None:
        return self._statuses([bid])[0]

    def members(self, bid: str) -> dict[str, str]:
        """Member (jid, or "b:<bid>" for a child batch) -> pending, failed, succeeded or dead."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.batch_members, keys.batch_pending, keys.batch_failed, keys.batch_dead):
            pipe.smembers(key(bid))
        everyone, pending, failed, dead = (
            {_text(member) for member in found} for found in pipe.execute()
        )
        states: dict[str, str] = {}
        for member in everyone:
            if member in dead:
                states[member] = "dead"
            elif member in failed:
                states[member] = "failed"
            elif member in pending:
                states[member] = "pending"
            else:
                states[member] = "succeeded"
        return states

    def listing(self, offset: int = 0, limit: int = 25) -> tuple[int, list[BatchStatus]]:
        """The newest batches first, and how many the index holds; drops expired entries."""
        newest: list[bytes] = self.redis.zrevrange(keys.BATCH_INDEX, offset, offset + limit - 1)  # type: ignore[assignment]
        bids = [_text(bid) for bid in newest]
        statuses = self._statuses(bids)
        gone = [bid for bid, status in zip(bids, statuses, strict=True) if status is None]
        if gone:
            self.redis.zrem(keys.BATCH_INDEX, *gone)
        total = int(self.redis.zcard(keys.BATCH_INDEX))
        return total, [status for status in statuses if status is not None]

    def _statuses(self, bids: Sequence[str]) -> list[BatchStatus | None]:
        """Each batch's hash and the sizes of its pending and failed sets, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for bid in bids:
            pipe.hgetall(keys.batch(bid))
            pipe.scard(keys.batch_pending(bid))
            pipe.scard(keys.batch_failed(bid))
        replies = pipe.execute() if bids else []
        found: list[BatchStatus | None] = []
        for index, bid in enumerate(bids):
            raw, pending, failed = replies[3 * index : 3 * index + 3]
            found.append(
                BatchStatus.from_hash(bid, _texts(raw), int(pending), int(failed)) if raw else None
            )
        return found

    def stats(self) -> dict[str, int]:
        """Cluster-wide counters: created, completed, callbacks:<event>."""
        raw = _texts(self.redis.hgetall(keys.BATCH_STATS))
        return {name: int(value) for name, value in raw.items() if value.lstrip("-").isdigit()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in raw.items()}
