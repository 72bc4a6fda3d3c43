"""Totals and daily history: what Sidekiq's `Sidekiq::Stats` reports."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, text

MAX_HISTORY_DAYS = 180


@dataclass(frozen=True)
class StatsSnapshot:
    processed: int
    failed: int
    enqueued: int
    scheduled: int
    retries: int
    dead: int
    processes: int
    busy: int
    default_latency: float
    queues: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "failed": self.failed,
            "enqueued": self.enqueued,
            "scheduled": self.scheduled,
            "retries": self.retries,
            "dead": self.dead,
            "processes": self.processes,
            "busy": self.busy,
            "default_latency": self.default_latency,
            "queues": self.queues,
        }


class Stats:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def snapshot(self) -> StatsSnapshot:
        """Every headline number, read in two round trips."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(keys.STAT_PROCESSED)
        pipe.get(keys.STAT_FAILED)
        pipe.zcard(keys.SCHEDULE)
        pipe.zcard(keys.RETRY)
        pipe.zcard(keys.DEAD)
        pipe.smembers(keys.PROCESSES)
        pipe.smembers(keys.QUEUES)
        pipe.lindex(keys.queue("default"), -1)
        processed, failed, scheduled, retries, dead, processes, queues, oldest = pipe.execute()
        queue_names = sorted(text(name) for name in queues)
        identities = [text(identity) for identity in processes]
        pipe = self.redis.pipeline(transaction=False)
        for name in queue_names:
            pipe.llen(keys.queue(name))
        for identity in identities:
            pipe.hget(keys.process(identity), "busy")
        replies = pipe.execute()
        sizes = dict(zip(queue_names, replies[: len(queue_names)], strict=True))
        busy_values = replies[len(queue_names) :]
        alive = [value for value in busy_values if value is not None]
        latency = JobRecord(oldest).latency(time.time()) if oldest is not None else 0.0
        return StatsSnapshot(
            processed=_count(processed or 0),
            failed=_count(failed or 0),
            enqueued=sum(sizes.values()),
            scheduled=int(scheduled),
            retries=int(retries),
            dead=int(dead),
            processes=len(alive),
            busy=sum(_count(value) for value in alive),
            default_latency=latency,
            queues=sizes,
        )

    def history(self, days: int, *, until: date | None = None) -> list[tuple[date, int, int]]:
        """(day, processed, failed) for the last `days` UTC days, newest first."""
        days = max(1, min(MAX_HISTORY_DAYS, days))
        last = until or datetime.now(UTC).date()
        dates = [last - timedelta(days=offset) for offset in range(days)]
        pipe = self.redis.pipeline(transaction=False)
        for day in dates:
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            pipe.get(keys.stat_daily("processed", moment))
            pipe.get(keys.stat_daily("failed", moment))
        values = pipe.execute()
        return [
            (day, _count(values[2 * i] or 0), _count(values[2 * i + 1] or 0))
            for i, day in enumerate(dates)
        ]

    def reset(self, *which: str) -> None:
        """Zero the totals (Sidekiq's Stats#reset); the daily history stays."""
        names = which or ("processed", "failed")
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.set(keys.stat(name), 0)
        pipe.execute()

    def redis_info(self) -> dict[str, str]:
        info = self.redis.info()
        wanted = (
            "redis_version",
            "uptime_in_days",
            "connected_clients",
            "used_memory_human",
            "used_memory_peak_human",
            # Behind Sentinel, which server answered and how many replicas follow it
            # (a master with none left has nobody to fail over to).
            "role",
            "connected_slaves",
        )
        return {name: str(info.get(name, "")) for name in wanted}


def _count(value: bytes | str | int) -> int:
    """A number another process wrote; garbage counts 0, as Ruby's `to_i` reads it."""
    try:
        return int(value)
    except ValueError:
        return 0
