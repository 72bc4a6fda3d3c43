"""The `queue:*` lists: size, latency, paging, deleting and clearing."""

from __future__ import annotations

import time

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, text


class Queue:
    def __init__(self, client: redis.Redis, name: str):
        self.redis = client
        self.name = name
        self.key = keys.queue(name)

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"

    @classmethod
    def all(cls, client: redis.Redis) -> list[Queue]:
        return [cls(client, text(name)) for name in sorted(client.smembers(keys.QUEUES))]

    def size(self) -> int:
        return int(self.redis.llen(self.key))

    def latency(self, now: float | None = None) -> float:
        """Seconds the oldest job has waited (0 when empty)."""
        oldest = self.redis.lindex(self.key, -1)
        if oldest is None:
            return 0.0
        return JobRecord(oldest, self.name).latency(time.time() if now is None else now)

    def page(self, start: int, count: int) -> list[JobRecord]:
        """`count` jobs from position `start`, newest first (as Sidekiq's Web UI lists them)."""
        if count <= 0:
            return []
        raw = self.redis.lrange(self.key, start, start + count - 1)
        return [JobRecord(entry, self.name) for entry in raw]

    def find(self, jid: str, scan_limit: int = 10_000) -> JobRecord | None:
        """The job with `jid` among the first `scan_limit` entries (lists have no index)."""
        step = 500
        for start in range(0, scan_limit, step):
            chunk = self.page(start, step)
            for record in chunk:
                if record.jid == jid:
                    return record
            if len(chunk) < step:
                break
        return None

    def delete(self, record: JobRecord) -> bool:
        return bool(self.redis.lrem(self.key, 1, record.raw_bytes))  # type: ignore[arg-type]

    def clear(self) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.unlink(self.key)
        pipe.srem(keys.QUEUES, self.name)
        pipe.execute()
