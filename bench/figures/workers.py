"""A group of worker processes of one system, started together and always stopped.

Each process of a group appends its jobs' records to a file of its own (the
first one to the file the caller named), so the harness knows when each
process ran its first job: the CPU meter starts there, per process, which
keeps a second process's boot out of the first one's figures.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bench import procs, records
from bench.figures.context import Context
from bench.systems.base import NOOP_QUIET, System, Variant


class WorkerDied(RuntimeError):
    pass


class WorkerGroup:
    def __init__(
        self,
        ctx: Context,
        system: System,
        count: int,
        record: Path,
        label: str,
        variant: Variant = NOOP_QUIET,
    ) -> None:
        self.ctx = ctx
        self.system = system
        self.count = count
        self.record = record
        self.label = label
        self.variant = variant
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0.0
        self.record_files = [record] + [
            record.with_name(f"{record.stem}.w{index}{record.suffix}") for index in range(1, count)
        ]
        for path in self.record_files[1:]:
            path.unlink(missing_ok=True)

    def log(self, index: int) -> Path:
        return self.ctx.paths.logs / f"{self.label}.worker{index}.log"

    def __enter__(self) -> WorkerGroup:
        self.started = time.time()
        for index, record in enumerate(self.record_files):
            launch = self.system.worker(self.ctx.paths, self.ctx.server.url, record, self.variant)
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

    def done(self) -> int:
        """Records written so far by every process of the group."""
        return sum(records.count(path) for path in self.record_files)

    def read(self) -> list[tuple[int, float]]:
        return [pair for path in self.record_files for pair in records.read(path)]

    def memory(self) -> tuple[int, int, int]:
        return procs.session_memory([process.pid for process in self.processes])


class CpuMeter:
    """CPU seconds the group used per job, from each process's first job to the end.

    Sessions are read from /proc: a process and every helper it forked (RQ's
    work horses, reaped by the worker, count through cutime/cstime; Dramatiq's
    worker process, RQ's scheduler, alive, count directly). Each process's
    baseline is read when its first record appears, so interpreter start,
    imports and connecting are left out, as they are from jobs/s; the jobs it
    had done by then are left out too.
    """

    def __init__(self, group: WorkerGroup) -> None:
        self.group = group
        # index -> (CPU seconds, jobs done) at the process's first job
        self.start: dict[int, tuple[float, int]] = {}

    def _session(self, index: int) -> int:
        return self.group.processes[index].pid  # each worker leads its own session

    def poll(self) -> None:
        """Take the baseline of every process that ran its first job since the last poll."""
        if len(self.start) == self.group.count:
            return
        files = self.group.record_files
        fresh = [i for i in range(self.group.count) if i not in self.start]
        fresh = [i for i in fresh if records.count(files[i]) > 0]
        if not fresh:
            return
        cpu = procs.session_cpu([self._session(i) for i in fresh])
        for i in fresh:
            self.start[i] = (cpu[self._session(i)], records.count(files[i]))

    def finish(self) -> tuple[float, int]:
        """(CPU seconds, jobs) since the baselines, over the processes that ran a job."""
        indices = sorted(self.start)
        cpu = procs.session_cpu([self._session(i) for i in indices])
        seconds = sum(cpu[self._session(i)] - self.start[i][0] for i in indices)
        files = self.group.record_files
        jobs = sum(records.count(files[i]) - self.start[i][1] for i in indices)
        return seconds, jobs
