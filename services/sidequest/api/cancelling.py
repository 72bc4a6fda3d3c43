"""Cancelling a job by jid, wherever it is.

1. mark it: `sidequest:cancelled` holds the jid for CANCEL_TTL_SECONDS, and every
   worker drops a job whose jid is marked when it is about to start, so a cancelled job
   never runs again, even one that was in flight in a process that crashed (recovered)
   or that was pushed back to its queue at a shutdown
2. announce it on `sidequest:control`: a worker running it sets the job's `cancelled`
   (its `check_cancelled()` raises JobCancelled) and abandons it after `timeout_grace`
3. remove it from `schedule`, `retry` and the queues (the first `scan_limit` entries of
   each: a job further back is dropped by its mark when fetched), releasing its
   unique_for lock

Jobs removed here count in `sidequest:flow-stats` `cancelled`; jobs a worker drops or
stops count there when the worker does it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import redis

from sidequest import keys
from sidequest.api.processes import ProcessSet
from sidequest.api.queues import Queue
from sidequest.api.records import JobRecord, text

#: jids are Sidekiq's 24 hex digits, or ActiveJob's UUIDs; this also keeps them free of
#: glob characters, since they become a ZSCAN pattern
_JID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
#: how many entries of each queue are searched for the job
QUEUE_SCAN_LIMIT = 100_000


def checked_jid(jid: str) -> str:
    """`jid` if it can be one; ValueError saying why otherwise."""
    if not _JID.fullmatch(jid):
        raise ValueError(
            f"invalid jid {jid!r}: 1 to 100 letters, digits, '-', '_', '.' or ':' "
            "(Sidekiq's jids are 24 hex digits)"
        )
    return jid


@dataclass(frozen=True)
class CancelResult:
    """What one cancel found.

    Attributes:
        removed: where the job was removed from: `queue:<name>`, `schedule`, `retry`.
        in_workers: identities of worker processes that hold it (running, or fetched and
            about to start): they stop it or drop it.
    """

    jid: str
    removed: tuple[str, ...] = ()
    in_workers: tuple[str, ...] = field(default=())

    @property
    def found(self) -> bool:
        return bool(self.removed or self.in_workers)

    @property
    def state(self) -> str:
        """queued, scheduled, retrying, running, or unknown."""
        if self.in_workers:
            return "running"
        for place in self.removed:
            if place == keys.SCHEDULE:
                return "scheduled"
            if place == keys.RETRY:
                return "retrying"
        return "queued" if self.removed else "unknown"


def cancel(client: redis.Redis, jid: str, *, scan_limit: int = QUEUE_SCAN_LIMIT) -> CancelResult:
    """Cancel the job `jid` (see the module docstring). ValueError for a malformed jid.

    The mark is written even when the job is found nowhere: it may be on its way
    between two places (promoted, recovered) at this very moment.
    """
    checked_jid(jid)
    now = time.time()
    pipe = client.pipeline(transaction=True)
    pipe.zadd(keys.CANCELLED, {jid: now + keys.CANCEL_TTL_SECONDS})
    pipe.zremrangebyscore(keys.CANCELLED, "-inf", repr(now))
    pipe.expire(keys.CANCELLED, keys.CANCEL_TTL_SECONDS)
    pipe.publish(keys.CONTROL_CHANNEL, f"cancel {jid}")
    pipe.execute()
    removed: list[str] = []
    records: list[JobRecord] = []
    for set_key in (keys.SCHEDULE, keys.RETRY):
        for member in _members_with(client, set_key, jid):
            if client.zrem(set_key, member):
                removed.append(set_key)
                records.append(JobRecord(member))
    for queue in Queue.all(client):
        record = queue.find(jid, scan_limit=scan_limit)
        if record is not None and queue.delete(record):
            removed.append(queue.key)
            records.append(record)
    for record in records:
        _release_unique_lock(client, record)
    if removed:
        client.hincrby(keys.FLOW_STATS, "cancelled", len(removed))
    return CancelResult(jid, tuple(removed), tuple(_workers_holding(client, jid)))


def cancelled_jids(client: redis.Redis, now: float | None = None) -> set[str]:
    """The jids whose cancel mark holds."""
    moment = time.time() if now is None else now
    members: list[bytes] = client.zrangebyscore(keys.CANCELLED, repr(moment), "+inf")  # type: ignore[assignment]
    return {text(jid) for jid in members}


def _members_with(client: redis.Redis, set_key: str, jid: str) -> list[bytes | str]:
    """Members of a sorted set whose payload has `jid` (a ZSCAN, then a JSON check)."""
    found = []
    for member, _ in client.zscan_iter(set_key, match=f'*"jid":"{jid}"*', count=1000):
        if JobRecord(member).jid == jid:
            found.append(member)
    return found


def _workers_holding(client: redis.Redis, jid: str) -> list[str]:
    """Worker identities whose in-flight hash or landing list holds the job, or whose
    last heartbeat reported it running (the only trace a Ruby worker leaves)."""
    needle = f'"jid":"{jid}"'
    holders = [work.identity for work in ProcessSet(client).work() if work.job.jid == jid]
    for identity in sorted(text(owner) for owner in client.smembers(keys.OWNERS)):
        pipe = client.pipeline(transaction=False)
        pipe.hvals(keys.inflight(identity))
        pipe.lrange(keys.landing(identity), 0, -1)
        held, landed = pipe.execute()
        if any(needle in text(raw) and JobRecord(raw).jid == jid for raw in [*held, *landed]):
            holders.append(identity)
    return sorted(set(holders))


def _release_unique_lock(client: redis.Redis, record: JobRecord) -> None:
    """Free the unique_for lock the removed job holds, as finishing it would."""
    digest = record.item.get("unique_digest")
    if not isinstance(digest, str) or not digest:
        return
    lock = keys.unique_lock(digest)
    if text(client.get(lock) or b"") == record.jid:
        client.delete(lock)


def describe(result: CancelResult) -> str:
    """One line for a person: what happened to the job."""
    if result.in_workers:
        return (
            f"cancelled {result.jid}: running in {', '.join(result.in_workers)}; it sees "
            "`cancelled` now and is abandoned after timeout_grace if it does not stop"
        )
    if result.removed:
        return f"cancelled {result.jid}: removed from {', '.join(result.removed)}"
    return f"no job {result.jid} is queued, scheduled, retrying or running"
