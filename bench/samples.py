"""What one benchmark run measured: plain records, saved as JSON beside the report.

The report is rendered from these only, so ``python -m bench --report X.json``
can redraw the tables of an earlier run without running anything.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class DrainSample:
    system: str
    procs: int
    repeat: int
    target: int  # jobs enqueued before the workers started
    done: int  # distinct jobs that ran before the stop
    duplicates: int  # jobs that ran more than once
    seconds: float  # first job start -> last job start
    boot_seconds: float  # workers spawned -> first job start
    capped: bool  # stopped by the time cap before all jobs ran
    commands: dict[str, int]  # INFO commandstats calls during the drain
    # Added with the I/O workloads (issue 13); results of older harnesses load with
    # these defaults: the no-op job at quiet logging, CPU not measured.
    workload: str = "noop"
    logging: str = "quiet"
    cpu_seconds: float = math.nan  # worker CPU (/proc) from each process's first job on
    cpu_jobs: int = 0  # jobs run over that stretch

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else math.nan

    @property
    def cpu_per_1000(self) -> float:
        """Worker CPU seconds per 1,000 jobs."""
        return self.cpu_seconds / self.cpu_jobs * 1000 if self.cpu_jobs > 0 else math.nan

    def of(self, workload: str, logging: str) -> bool:
        return self.workload == workload and self.logging == logging

    @property
    def rate_with_boot(self) -> float:
        total = self.seconds + self.boot_seconds
        return self.done / total if total > 0 else math.nan

    @property
    def commands_per_job(self) -> float:
        return sum(self.commands.values()) / self.done if self.done else math.nan


@dataclass
class EnqueueSample:
    system: str
    mode: str  # "single" or "bulk"
    repeat: int
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan


@dataclass
class DelaySample:
    """Start latency (figure 3) or scheduled lateness (figure 4), in seconds.

    A job that had not started when the wait ended counts as infinitely late,
    so percentiles stay honest when a system falls behind.
    """

    system: str
    kind: str  # "latency" or "schedule"
    repeat: int
    sent: int
    done: int
    p50: float
    p99: float
    max: float
    min: float
    early: int  # jobs that started before their due time (schedule only)
    producer_lag: float  # worst lag of the producer behind its pacing (latency only)


@dataclass
class PeriodicSample:
    """Figure 8: ticks of periodic schedules under two scheduler instances (seconds)."""

    system: str
    repeat: int
    api: str
    instances: str
    period: float  # seconds between two ticks of one schedule
    schedules: int  # schedules side by side
    ticks: int  # ticks in the window, over every schedule
    ran: int  # ticks that ran at least once
    duplicated: int  # runs beyond a tick's first
    missed: int  # ticks that never ran
    early: int  # runs that started before their tick
    p50: float  # tick to job start, over the ticks that ran
    p99: float
    max: float


@dataclass
class MemorySample:
    system: str
    repeat: int
    rss: int  # bytes, summed over the worker's processes
    pss: int
    processes: int


@dataclass
class Failure:
    system: str
    figure: str
    repeat: int
    message: str


@dataclass
class SystemInfo:
    name: str
    title: str
    concurrency: str
    bulk_api: str | None
    schedule_api: str
    memory_note: str
    notes: list[str]
    versions: dict[str, str] = field(default_factory=dict)
    unavailable: str | None = None
    slots: int = 10  # jobs in flight per process (the sleep workload's ideal)
    quiet_by_default: bool = False  # default logging = quiet: measured once, shown in both


@dataclass
class Results:
    command: str
    started: str
    finished: str
    settings: dict[str, Any]
    machine: dict[str, str]
    systems: list[SystemInfo] = field(default_factory=list)
    drains: list[DrainSample] = field(default_factory=list)
    enqueues: list[EnqueueSample] = field(default_factory=list)
    delays: list[DelaySample] = field(default_factory=list)
    memory: list[MemorySample] = field(default_factory=list)
    periodic: list[PeriodicSample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    # Free text from whoever ran it (--note): what the numbers alone do not say.
    notes: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(_plain(asdict(self)), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        raw: dict[str, Any] = json.loads(path.read_text())
        kinds: dict[str, type[Any]] = {
            "systems": SystemInfo,
            "drains": DrainSample,
            "enqueues": EnqueueSample,
            "delays": DelaySample,
            "memory": MemorySample,
            "periodic": PeriodicSample,
            "failures": Failure,
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue  # written by an older harness: the field's default applies
            value = raw[f.name]
            if f.name in kinds:
                value = [kinds[f.name](**_unplain(item)) for item in value or []]
            values[f.name] = value
        return cls(**values)


def _plain(value: Any) -> Any:
    # JSON has no infinity or NaN: store them as strings and restore them on load.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _unplain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if v in ("inf", "-inf", "nan") else v for k, v in item.items()}
