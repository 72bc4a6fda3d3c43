"""The `schedule`, `retry` and `dead` sorted sets: paging, finding, moving, deleting.

Moves are guarded: an entry goes to its queue or to the dead set only if the call
that removed it from its set is ours (promote.lua, kill.lua), so two people pressing
"retry" at once enqueue it once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis

from sidequest import keys, payload, scripts
from sidequest.api.records import EntryId, SortedEntry

DEAD_MAX_JOBS = 10_000
DEAD_TIMEOUT = 180 * 24 * 3600.0


class SortedSet:
    def __init__(self, client: redis.Redis, name: str):
        self.redis = client
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def size(self) -> int:
        return int(self.redis.zcard(self.name))

    def page(self, start: int, count: int, *, newest_first: bool = False) -> list[SortedEntry]:
        if count <= 0:
            return []
        raw = self.redis.zrange(
            self.name, start, start + count - 1, desc=newest_first, withscores=True
        )
        return [SortedEntry(member, score, self.name) for member, score in _pairs(raw)]

    def each(self, batch: int = 500) -> Iterator[SortedEntry]:
        """Every entry, lowest score first, a page at a time."""
        start = 0
        while True:
            chunk = self.page(start, batch)
            yield from chunk
            if len(chunk) < batch:
                return
            start += batch

    def fetch(self, entry_id: EntryId) -> SortedEntry | None:
        score = repr(entry_id.score)
        raw = self.redis.zrangebyscore(self.name, score, score, withscores=True)
        for member, found_score in _pairs(raw):
            entry = SortedEntry(member, float(found_score), self.name)
            if entry.jid == entry_id.jid:
                return entry
        return None

    def find_job(self, jid: str) -> SortedEntry | None:
        for member, score in self.redis.zscan_iter(
            self.name, match=f"*{_glob_escape(jid)}*", count=1000
        ):
            entry = SortedEntry(member, score, self.name)
            if entry.jid == jid:
                return entry
        return None

    def search(
        self, needle: str, *, limit: int, max_scanned: int
    ) -> tuple[list[SortedEntry], bool]:
        """Entries whose class or payload contains `needle`, scanning at most `max_scanned`.

        Returns the matches (at most `limit`) and whether the scan was cut short.
        """
        found: list[SortedEntry] = []
        for scanned, entry in enumerate(self.each(), start=1):
            if entry.matches(needle):
                found.append(entry)
                if len(found) >= limit:
                    return found, True
            if scanned >= max_scanned:
                return found, scanned < self.size()
        return found, False

    def delete(self, entry: SortedEntry) -> bool:
        return bool(self.redis.zrem(self.name, entry.raw_bytes))

    def clear(self) -> int:
        size = self.size()
        self.redis.unlink(self.name)
        return size

    def enqueue_now(self, entry: SortedEntry, *, count_as_manual_retry: bool = False) -> bool:
        """Move the entry to the end of its queue now; False when someone else moved it."""
        job = dict(entry.item)
        if not job:
            return False
        if count_as_manual_retry and isinstance(job.get("retry_count"), int):
            # Sidekiq: "manual retries should not count against the retry limit".
            job["retry_count"] -= 1
        queue = job.get("queue") if isinstance(job.get("queue"), str) else "default"
        job["queue"] = queue
        job["enqueued_at"] = time.time()
        moved = scripts.PROMOTE(
            self.redis,
            [self.name, keys.QUEUES, keys.queue(str(queue))],
            [entry.raw_bytes, str(queue), payload.encode(job)],
        )
        return int(moved) == 1

    def kill(self, entry: SortedEntry, reason: str = "killed by an operator") -> bool:
        """Move the entry to the dead set."""
        now = time.time()
        job: dict[str, Any] = dict(entry.item) or {"class": "(malformed)", "args": [entry.raw]}
        job.setdefault("error_class", "sidequest.Killed")
        job.setdefault("error_message", reason)
        moved = scripts.KILL(
            self.redis,
            [self.name, keys.DEAD],
            [
                entry.raw_bytes,
                payload.encode(job),
                repr(now),
                DEAD_MAX_JOBS,
                repr(now - DEAD_TIMEOUT),
                # A batch member's death counts in its batch (on_death, on_complete).
                *_batch_member(job, now),
            ],
        )
        return int(moved) == 1

    def apply_to_all(self, action: str) -> int:
        """`retry`, `enqueue`, `kill` or `delete` every entry; returns how many moved."""
        if action not in ("retry", "enqueue", "kill", "delete"):
            raise ValueError(f"unknown action {action!r}: use retry, enqueue, kill or delete")
        if action == "delete":
            return self.clear()
        done = 0
        while True:
            chunk = self.page(0, 500)
            if not chunk:
                return done
            for entry in chunk:
                if action == "kill":
                    moved = self.kill(entry)
                else:
                    moved = self.enqueue_now(entry, count_as_manual_retry=action == "retry")
                if not moved:
                    self.delete(entry)  # malformed or raced: never loop on it forever
                done += int(moved)


class ScheduledSet(SortedSet):
    def __init__(self, client: redis.Redis):
        super().__init__(client, keys.SCHEDULE)


class RetrySet(SortedSet):
    def __init__(self, client: redis.Redis):
        super().__init__(client, keys.RETRY)

    def retry(self, entry: SortedEntry) -> bool:
        return self.enqueue_now(entry, count_as_manual_retry=True)


class DeadSet(SortedSet):
    def __init__(self, client: redis.Redis):
        super().__init__(client, keys.DEAD)

    def retry(self, entry: SortedEntry) -> bool:
        return self.enqueue_now(entry, count_as_manual_retry=True)

    def page(self, start: int, count: int, *, newest_first: bool = True) -> list[SortedEntry]:
        return super().page(start, count, newest_first=newest_first)

    def apply_to_all(self, action: str) -> int:
        if action == "kill":
            # A killed entry lands in this very set again: the loop would never end.
            raise ValueError("entries of the dead set are dead already: retry or delete them")
        return super().apply_to_all(action)


def _pairs(reply: Any) -> list[tuple[bytes, float]]:
    """(member, score) pairs of a WITHSCORES reply, typed."""
    return [(member, float(score)) for member, score in reply]


def _glob_escape(value: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in value)


def _batch_member(job: dict[str, Any], now: float) -> tuple[str, ...]:
    """kill.lua's batch arguments for `job`: none outside a batch."""
    bid = job.get("bid")
    if not isinstance(bid, str) or not bid:
        return ()
    return (bid, str(job.get("jid", "")), *keys.batch_context(now))
