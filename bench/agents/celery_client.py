"""Enqueues the benchmark task through Celery's ``delay`` / ``apply_async``.

Celery has no bulk enqueue: ``group(...).apply_async()`` publishes the messages
one by one, so the bulk figure is n/a rather than a second one-by-one number.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.agents.celery_jobs import app, noop


class CeleryClient:
    def enqueue(self, n: int) -> None:
        noop.delay(n)

    def enqueue_bulk(self, ns: list[int]) -> None:
        raise NotImplementedError

    def enqueue_at(self, n: int, due_ms: int) -> None:
        noop.apply_async((n,), eta=datetime.fromtimestamp(due_ms / 1000, tz=UTC))

    def close(self) -> None:
        app.close()


def connect(url: str) -> CeleryClient:
    # The app reads REDIS_URL itself at import; the driver exports the same URL.
    return CeleryClient()
