"""Fixtures of the periodic-jobs integration tests: a store on the test Redis, and
helpers to read what the claims pushed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from sidequest import keys
from sidequest.connection import connect
from sidequest.payload import decode
from sidequest.periodic_jobs.store import PeriodicStore


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client as the worker makes them (bytes replies)."""
    made = connect(redis_url)
    yield made
    made.close()


@pytest.fixture
def store(client: redis.Redis) -> PeriodicStore:
    return PeriodicStore(client)


def pushed(client: redis.Redis, queue: str = "default") -> list[dict[str, object]]:
    """The jobs on `queue`, in the order workers would take them (oldest first)."""
    return [decode(raw) for raw in reversed(client.lrange(keys.queue(queue), 0, -1))]


def ticks_pushed(
    client: redis.Redis, queue: str = "default", schedule: str | None = None
) -> Counter[int]:
    """How many jobs each tick (`periodic_at`) has on `queue` (of one schedule, if named)."""
    return Counter(
        int(str(job["periodic_at"]))
        for job in pushed(client, queue)
        if schedule is None or job["periodic"] == schedule
    )
