"""Fixtures of the periodic-jobs integration tests: a store on the test Redis, helpers to
read what the claims pushed and what the jobs ran, to write a worker's config file and to
run the `sidequest` command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from sidequest import keys
from sidequest.connection import connect
from sidequest.payload import decode
from sidequest.periodic_jobs.store import PeriodicStore
from tests.support.polling import wait_for
from tests.support.worker_process import ROOT


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


def runs(client: redis.Redis) -> list[dict[str, Any]]:
    """What PeriodicJob recorded (tests/integration/sidequest/fixture_jobs.py), in order."""
    return [json.loads(raw) for raw in client.lrange("test:periodic", 0, -1)]


def sidequest(*args: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m sidequest ARGS` as a person runs it, on the test's Redis."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SIDEQUEST_") and name != "REDIS_URL"
    }
    environment.update(PYTHONPATH=str(ROOT), REDIS_URL=redis_url, TEST_REDIS_URL=redis_url)
    return subprocess.run(
        [sys.executable, "-m", "sidequest", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def config_file(directory: Path, schedules: dict[str, dict[str, Any]] | None) -> Path:
    """A worker's config file with these `:periodic:` entries (None: no such key)."""
    document: dict[str, Any] = {":concurrency:": 2}
    if schedules is not None:
        document[":periodic:"] = schedules
    path = directory / f"sidequest-{len(list(directory.glob('sidequest-*.yml')))}.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def until(moment: float) -> None:
    """Wait (polling the clock) until `moment`, epoch seconds."""
    wait_for(lambda: time.time() >= moment, timeout=moment - time.time() + 5, message="time")


def mid_second(after: float) -> float:
    """The first half-second mark after `after`: between two `every: 1` ticks, when no
    periodic job is in flight (they run in milliseconds)."""
    return math.floor(after) + 1.5
