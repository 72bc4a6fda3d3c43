"""Jobs that report progress, for tests/integration/sidequest/test_progress.py's workers."""

from __future__ import annotations

import time
from pathlib import Path

from sidequest import Job


class CountingJob(Job):
    """Reports progress `steps` times as fast as it can, then waits for `gate` to exist."""

    queue = "progress"

    def perform(self, steps: int, gate: str) -> None:
        for step in range(1, steps + 1):
            self.progress(step, steps, f"step {step}")
        deadline = time.monotonic() + 60
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # a job's own work: wait for the test to let it finish


class FailingProgressJob(Job):
    queue = "progress"
    retry = 0

    def perform(self) -> None:
        self.progress(1, 4, "one of four")
        raise RuntimeError("broke after the first quarter")
