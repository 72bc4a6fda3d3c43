"""Enqueues the benchmark job through RQ's public Queue API."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Queue  # type: ignore[import-not-found]

from bench.agents.rq_jobs import noop


class RQClient:
    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)
        self.queue = Queue("default", connection=self.redis)

    def enqueue(self, n: int) -> None:
        self.queue.enqueue(noop, n)

    def enqueue_bulk(self, ns: list[int]) -> None:
        # enqueue_many writes every job of the batch through one pipeline.
        self.queue.enqueue_many([Queue.prepare_data(noop, (n,)) for n in ns])

    def enqueue_at(self, n: int, due_ms: int) -> None:
        self.queue.enqueue_at(datetime.fromtimestamp(due_ms / 1000, tz=UTC), noop, n)

    def close(self) -> None:
        self.redis.close()


def connect(url: str) -> RQClient:
    return RQClient(url)
