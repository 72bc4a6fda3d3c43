from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import sidequest
from sidequest.adapter import set_adapter
from tests.support.worker_process import WorkerProcess

FIXTURE_JOBS = "tests.integration.sidequest.fixture_jobs"
FAST_HEARTBEAT = {"SIDEQUEST_HEARTBEAT_INTERVAL": "0.2", "SIDEQUEST_HEARTBEAT_TIMEOUT": "1.5"}


@pytest.fixture
def enqueue_to(redis_url: str) -> Iterator[str]:
    """Point perform_later at the test Redis for the duration of the test."""
    sidequest.configure(redis_url)
    yield redis_url
    set_adapter(None)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `sidequest worker` processes; every one is stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        redis_url: str,
        *args: str,
        env: dict[str, str] | None = None,
        requires: Sequence[str] = (FIXTURE_JOBS,),
    ) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(
            redis_url, log, args=args, requires=requires, env={**FAST_HEARTBEAT, **(env or {})}
        )
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()
