"""Enqueues the benchmark task through Huey's task call and ``schedule``.

Huey has no bulk enqueue (``task.map`` enqueues one by one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.agents.huey_jobs import noop


class HueyClient:
    def enqueue(self, n: int) -> None:
        noop(n)

    def enqueue_bulk(self, ns: list[int]) -> None:
        raise NotImplementedError

    def enqueue_at(self, n: int, due_ms: int) -> None:
        noop.schedule(args=(n,), eta=datetime.fromtimestamp(due_ms / 1000, tz=UTC))

    def close(self) -> None:
        pass


def connect(url: str) -> HueyClient:
    return HueyClient()
