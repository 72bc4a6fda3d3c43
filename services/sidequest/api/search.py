"""Bounded filtering of queues and sorted sets by class name or payload substring.

Every search examines at most `max_scanned` entries, so no request can make the
server walk a set of millions (Sidekiq's Web UI had CVEs for unbounded parameters).
Sorted sets are filtered inside Redis with ZSCAN MATCH and a case-insensitive glob,
which checks 100,000 entries in tens of milliseconds; lists have no SCAN, so queues
are read a chunk at a time with LRANGE and matched here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, SortedEntry

MAX_NEEDLE_LENGTH = 200
_SCAN_BATCH = 1000

Record = TypeVar("Record", bound=JobRecord)


@dataclass(frozen=True)
class SearchResult(Generic[Record]):
    """The matches (at most `limit`, in set or queue order) and how the scan went."""

    matches: list[Record]
    scanned: int
    complete: bool  # False when the scan stopped at max_scanned or at the limit


def check_needle(needle: str) -> str:
    needle = needle.strip()
    if not needle:
        raise ValueError("the filter is empty")
    if len(needle) > MAX_NEEDLE_LENGTH:
        raise ValueError(f"the filter is longer than {MAX_NEEDLE_LENGTH} characters")
    return needle


def case_insensitive_glob(needle: str) -> str:
    """A Redis MATCH pattern for `*needle*` that ignores ASCII case."""
    parts = []
    for char in needle:
        if char.isascii() and char.isalpha():
            parts.append(f"[{char.lower()}{char.upper()}]")
        elif char in "*?[]\\^-":
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "*" + "".join(parts) + "*"


def search_sorted_set(
    client: redis.Redis,
    name: str,
    needle: str,
    *,
    limit: int,
    max_scanned: int,
    newest_first: bool = False,
) -> SearchResult[SortedEntry]:
    """Entries of `schedule`, `retry` or `dead` whose class or payload contains `needle`."""
    needle = check_needle(needle)
    pattern = case_insensitive_glob(needle)
    size = int(client.zcard(name))
    found: list[SortedEntry] = []
    cursor = 0
    calls = 0
    max_calls = max(1, -(-max_scanned // _SCAN_BATCH))
    while True:
        cursor, batch = client.zscan(name, cursor, match=pattern, count=_SCAN_BATCH)
        calls += 1
        for member, score in cast(list[tuple[bytes, float]], batch):
            entry = SortedEntry(member, float(score), name)
            if entry.matches(needle):
                found.append(entry)
        if cursor == 0 or calls >= max_calls or len(found) >= limit:
            break
    found.sort(key=lambda entry: entry.score, reverse=newest_first)
    complete = cursor == 0 and len(found) <= limit
    scanned = size if cursor == 0 else min(size, calls * _SCAN_BATCH)
    return SearchResult(found[:limit], scanned, complete)


def search_queue(
    client: redis.Redis, queue: str, needle: str, *, limit: int, max_scanned: int
) -> SearchResult[JobRecord]:
    """Jobs of `queue` (newest first) whose class or payload contains `needle`."""
    needle = check_needle(needle)
    lowered = needle.lower().encode()
    key = keys.queue(queue)
    found: list[JobRecord] = []
    scanned = 0
    while scanned < max_scanned and len(found) < limit:
        count = min(_SCAN_BATCH, max_scanned - scanned)
        chunk = client.lrange(key, scanned, scanned + count - 1)
        for raw in chunk:
            raw_bytes = raw if isinstance(raw, bytes) else raw.encode()
            # Cheap byte test first: most entries fail it and are never parsed.
            if lowered in raw_bytes.lower():
                record = JobRecord(raw_bytes, queue)
                if record.matches(needle):
                    found.append(record)
        scanned += len(chunk)
        if len(chunk) < count:
            return SearchResult(found[:limit], scanned, len(found) <= limit)
    return SearchResult(found[:limit], scanned, False)


def find_in_queue(
    client: redis.Redis, queue: str, jid: str, near: int, *, window: int = 1000
) -> JobRecord | None:
    """The job `jid` of `queue`, looked for from position `near` onwards.

    A page shows a job at some index; new pushes move it further from the head and
    workers take jobs from the tail, so it is at `near` or later unless older jobs
    ran in between. We look a little before `near` and `window` entries after it.
    """
    start = max(0, near - 50)
    for raw in client.lrange(keys.queue(queue), start, near + window):
        record = JobRecord(raw, queue)
        if record.jid == jid:
            return record
    return None
