"""Every queue's size and latency in one pipelined round trip (the Queues page)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, text


@dataclass(frozen=True)
class QueueSummary:
    name: str
    size: int
    latency: float  # seconds the oldest job has waited; 0 when empty


def queue_summaries(client: redis.Redis, now: float | None = None) -> list[QueueSummary]:
    """Every queue in the `queues` set, by name."""
    names = sorted(text(name) for name in client.smembers(keys.QUEUES))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(keys.queue(name))
        pipe.lindex(keys.queue(name), -1)
    replies = pipe.execute()
    moment = time.time() if now is None else now
    summaries = []
    for index, name in enumerate(names):
        size, oldest = replies[2 * index], replies[2 * index + 1]
        latency = JobRecord(oldest, name).latency(moment) if oldest is not None else 0.0
        summaries.append(QueueSummary(name, int(size), latency))
    return summaries
