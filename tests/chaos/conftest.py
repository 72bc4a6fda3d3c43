"""Fixtures of the chaos suite, its marker, and the figures it prints at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.worker_process import WorkerProcess

#: reports of the chaos runs in this session, printed in the terminal summary
REPORTS: list[str] = []

FAST_HEARTBEAT = {"SIDEQUEST_HEARTBEAT_INTERVAL": "0.2", "SIDEQUEST_HEARTBEAT_TIMEOUT": "1.5"}
StartWorker = Callable[..., WorkerProcess]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a chaos run with real processes and injected faults")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("chaos figures")
        for report in REPORTS:
            terminalreporter.write_line(report)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """Start `sidequest worker` processes (with this suite's jobs); all stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        redis_url: str,
        *args: str,
        env: dict[str, str] | None = None,
        requires: tuple[str, ...] = ("tests.chaos.fault_jobs",),
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
