"""The one interface every benchmarked system implements.

A system tells the harness four things: how to install itself, how to start
one worker process, how to start its producer (a program that speaks the
driver protocol of ``bench/agents/driver.py``), and which versions ran. The
measurements themselves are the same code for everyone, in ``bench.figures``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bench.envs import ensure_venv, output_of


@dataclass(frozen=True)
class Paths:
    repo: Path  # the repository root: on PYTHONPATH so `bench.agents` imports
    bench: Path
    venvs: Path
    logs: Path


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Variant:
    """What the workers of one measurement run: the job's workload and the log level.

    The workload reaches the job through the environment (bench/agents/workload.py),
    so job classes and enqueue calls are the same for all; logging changes the
    worker's command line (or, for Sidekiq, its jobs file reads BENCH_LOGGING).
    """

    workload: str = "noop"
    logging: str = "quiet"  # "quiet": no per-job log lines; "default": the system's own level
    pg_dsn: str | None = None  # the suite's database, for the sql workload

    @property
    def quiet(self) -> bool:
        return self.logging == "quiet"


NOOP_QUIET = Variant()


@dataclass(frozen=True)
class PeriodicPlan:
    """How a system runs the periodic figure (bench/figures/periodic.py).

    `schedules` schedules tick every `period` seconds, side by side, for `ticks_each`
    ticks each: schedules x ticks_each ticks in period x ticks_each seconds.
    """

    api: str  # what fires the ticks, for the report
    period: float
    schedules: int
    ticks_each: int
    #: the processes to start: the two scheduler instances, and what runs the jobs
    launches: list[Launch]
    #: how the two instances are deployed, for the report
    instances: str


# Set by the harness for the benchmark's own processes; never inherited from the caller.
PERIODIC_SCHEDULES_VAR = "BENCH_PERIODIC_SCHEDULES"  # bench/agents/periodic.py
_BENCH_VARS = (
    "BENCH_RECORD",
    "BENCH_WORKLOAD",
    "BENCH_LOGGING",
    "BENCH_PG_DSN",
    PERIODIC_SCHEDULES_VAR,
)


def agent_env(
    paths: Paths,
    redis_url: str,
    record: Path | None = None,
    variant: Variant = NOOP_QUIET,
    slots: int = 10,
) -> dict[str, str]:
    """The environment of a worker or producer: ours, plus the benchmark's variables."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and k not in _BENCH_VARS}
    env["PYTHONPATH"] = str(paths.repo)
    env["REDIS_URL"] = redis_url
    # Python warnings or bytecode writes must not differ between runs.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if record is not None:
        env["BENCH_RECORD"] = str(record)
        env["BENCH_WORKLOAD"] = variant.workload
        env["BENCH_LOGGING"] = variant.logging
        # Jobs in flight per process: sizes each job's connection pool (sql).
        env["BENCH_CONCURRENCY"] = str(slots)
        if variant.pg_dsn:
            env["BENCH_PG_DSN"] = variant.pg_dsn
    return env


class System(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    concurrency: ClassVar[str]
    # What the bulk figure called, or None where the system has no bulk enqueue.
    bulk_api: ClassVar[str | None]
    schedule_api: ClassVar[str]
    # Which processes the idle-memory figure sums, when more than one.
    memory_note: ClassVar[str] = "1 process"
    process_counts: ClassVar[tuple[int, ...]] = (1, 2)
    # Jobs one worker process runs at once (threads, coroutines): the sleep
    # workload's ideal is slots / 1 ms per process.
    slots: ClassVar[int] = 10
    # True where the system's own default log level writes no line per job, so
    # that its command line at default logging is the quiet one: the harness
    # then measures it once and shows those samples in both tables.
    quiet_by_default: ClassVar[bool] = False
    # Seconds an idle worker needs after its first job before its scheduler runs
    # at its steady pace; the scheduled-job figure waits this long first.
    schedule_warmup: ClassVar[float] = 0.0
    notes: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def prepare(self, paths: Paths) -> None:
        """Install what is missing; raise envs.Unavailable when the system cannot run."""

    @abstractmethod
    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        """One worker process with the benchmark's concurrency, consuming queue 'default'."""

    def worker_env(
        self, paths: Paths, redis_url: str, record: Path, variant: Variant
    ) -> dict[str, str]:
        return agent_env(paths, redis_url, record, variant, self.slots)

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan | None:
        """Two scheduler instances of this system's periodic jobs, every job recording
        itself in `record` (bench/agents/periodic.py); None where it has none."""
        return None

    def periodic_env(
        self, paths: Paths, redis_url: str, record: Path, schedules: int
    ) -> dict[str, str]:
        env = agent_env(paths, redis_url, record, NOOP_QUIET, self.slots)
        env[PERIODIC_SCHEDULES_VAR] = str(schedules)
        return env

    @abstractmethod
    def producer(self, paths: Paths, redis_url: str) -> Launch:
        """The driver command line; the harness appends a command and its options."""

    @abstractmethod
    def versions(self, paths: Paths) -> dict[str, str]:
        """Name -> version of everything that matters for this system's figures."""

    def fingerprint(self, paths: Paths) -> str:
        """Changes whenever the code under test changes; compared before and after a run."""
        return repr(sorted(self.versions(paths).items()))


class PythonPeer(System):
    """A Python system installed from bench/requirements/<venv>.txt into its own venv."""

    venv: ClassVar[str]
    client_module: ClassVar[str]
    # Distributions whose versions the report shows.
    packages: ClassVar[tuple[str, ...]]

    def bin(self, paths: Paths) -> Path:
        return paths.venvs / self.venv / "bin"

    def prepare(self, paths: Paths) -> None:
        ensure_venv(
            paths.venvs / self.venv,
            paths.bench / "requirements" / f"{self.venv}.txt",
            paths.logs / f"install-{self.venv}.log",
        )

    def producer(self, paths: Paths, redis_url: str) -> Launch:
        argv = [str(self.bin(paths) / "python"), "-m", "bench.agents.driver", self.client_module]
        return Launch(argv, agent_env(paths, redis_url))

    def versions(self, paths: Paths) -> dict[str, str]:
        return python_versions(self.bin(paths) / "python", self.packages)


def python_versions(python: Path, packages: tuple[str, ...]) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, platform, sys\n"
        "print('Python', platform.python_version())\n"
        "for name in sys.argv[1:]:\n"
        "    try: print(name, m.version(name))\n"
        "    except m.PackageNotFoundError: print(name, '?')\n"
    )
    lines = output_of([str(python), "-c", script, *packages]).splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)
