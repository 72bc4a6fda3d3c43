"""A group of worker processes of one system, started together and always stopped."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bench import procs
from bench.figures.context import Context
from bench.systems.base import System


class WorkerDied(RuntimeError):
    pass


class WorkerGroup:
    def __init__(self, ctx: Context, system: System, count: int, record: Path, label: str) -> None:
        self.ctx = ctx
        self.system = system
        self.count = count
        self.record = record
        self.label = label
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0.0

    def log(self, index: int) -> Path:
        return self.ctx.paths.logs / f"{self.label}.worker{index}.log"

    def __enter__(self) -> WorkerGroup:
        self.started = time.time()
        for index in range(self.count):
            launch = self.system.worker(self.ctx.paths, self.ctx.server.url, self.record)
            self.processes.append(
                procs.spawn(
                    launch.argv, env=launch.env, cwd=self.ctx.paths.repo, log=self.log(index)
                )
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        procs.stop_many(self.processes, grace=3.0)

    def check(self) -> None:
        """Raise if a worker exited: a benchmark of a dead worker would only time out."""
        for index, process in enumerate(self.processes):
            code = process.poll()
            if code is not None:
                raise WorkerDied(
                    f"{self.system.name} worker exited with {code}; see {self.log(index)}"
                )

    def wait_until(self, done: Callable[[], bool], deadline: float, poll: float = 0.005) -> bool:
        """Poll done() until it holds (True) or time.monotonic() passes deadline (False)."""
        while not done():
            self.check()
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
        return True

    def memory(self) -> tuple[int, int, int]:
        return procs.session_memory([process.pid for process in self.processes])
