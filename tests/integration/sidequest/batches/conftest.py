from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.sidequest.conftest import FAST_HEARTBEAT
from tests.support.worker_process import WorkerProcess

BATCH_JOBS = "tests.integration.sidequest.batches.batch_jobs"


@pytest.fixture
def start_batch_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `sidequest worker` processes that know the batch test jobs."""
    started: list[WorkerProcess] = []

    def start(redis_url: str, *args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(
            redis_url, log, args=args, requires=[BATCH_JOBS], env={**FAST_HEARTBEAT, **(env or {})}
        )
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()
