"""How long a run will take, printed at its start: a model fitted to this machine's runs.

Each measurement costs a fixed part (a producer's interpreter start, worker
boot, the settle pause, the stop) plus its enqueue and its drain, which run at
the paces below: the medians of the full run of 2026-11-28 on this 2-core
machine kind (bench/results/2026-11-28-vm.json) for the no-op job, and for the
I/O workloads a fraction of those, from short runs of the I/O drains. That
model puts the 2026-11-28 run at 33 min against the 33.6 it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.settings import Settings


@dataclass(frozen=True)
class Pace:
    drain1: float  # no-op jobs/s, 1 process
    drain2: float  # no-op jobs/s, 2 processes
    enqueue_single: float  # jobs/s, one call per job
    enqueue_bulk: float | None  # jobs/s through the bulk API, where there is one
    boot: float  # seconds from spawn to the first job
    stop: float  # seconds to stop a worker group after a drain
    schedule_warmup: float = 0.0
    quiet_by_default: bool = False


PACES = {
    "sidequest": Pace(29_000, 65_000, 7_100, 410_000, 0.2, 0.8),
    # Sidekiq's fetchers block in BRPOP for up to 2 s: its stop waits them out.
    "sidekiq": Pace(12_600, 22_200, 7_400, 157_000, 0.2, 2.0, schedule_warmup=15.0),
    "rq": Pace(87, 161, 2_660, 16_500, 0.2, 0.8),
    "rq-simple": Pace(325, 569, 2_640, 16_250, 0.2, 0.4),
    "celery": Pace(1_044, 1_884, 2_300, None, 1.3, 0.7, quiet_by_default=True),
    "dramatiq": Pace(2_592, 5_465, 5_550, None, 0.15, 0.6, quiet_by_default=True),
    "arq": Pace(204, 238, 2_480, None, 0.1, 0.2),
    "huey": Pace(2_577, 8_637, 7_380, None, 0.15, 0.2),
}
# Figure 8 per system: 60 ticks of 1 s (Huey: 3 of a minute, after up to a minute's
# wait for its first), plus boot, the two boundaries before the window and 5 s after it.
PERIODIC_SECONDS = {"sidequest": 70, "rq": 70, "celery": 72, "arq": 70, "huey": 300}
# I/O jobs run at about this fraction of the system's no-op pace (the sleep workload's
# ideal, 10,000 jobs/s per process, bounds the fast systems; RQ runs one job at a time).
IO_FRACTION = {"redis": 0.5, "sleep": 0.35, "sql": 0.3}
PRODUCER_START = 0.5  # interpreter start and imports of a producer process
SETTLE = 0.3  # bench.figures.drain.SETTLE
IDLE_SETTLE = 1.0  # bench.figures.idle.IDLE_SETTLE
BACKLOG_MARGIN = 1.5  # bench.runner.BACKLOG_MARGIN


def _drain(pace: Pace, n: int, cap: float, rate: float, bulk: bool, settle: float) -> float:
    enqueue = pace.enqueue_bulk if bulk and pace.enqueue_bulk else pace.enqueue_single
    run = min(cap, pace.boot + n / rate)
    return PRODUCER_START + n / enqueue + run + settle + pace.stop


def _noop_rate(pace: Pace, procs: int) -> float:
    # Beyond 2 processes (sidequest's 4) on 2 cores: about the 2-process pace.
    return pace.drain1 if procs == 1 else pace.drain2


def _noop_seconds(settings: Settings, name: str, pace: Pace) -> float:
    """One repeat of figures 1-6 for one system."""
    counts = settings.procs or ((1, 2, 4) if name == "sidequest" else (1, 2))
    seconds = 0.0
    for index, procs in enumerate(counts if settings.drains else ()):
        # The first drain enqueues one at a time (figure 2's sample), later ones in bulk.
        rate = _noop_rate(pace, procs)
        seconds += _drain(pace, settings.n, settings.drain_cap, rate, index > 0, SETTLE)
    if settings.wants("enqueue") and not settings.drains:
        # Without drains, figure 2 runs enqueues of its own, one per mode.
        rates = [pace.enqueue_single, *([pace.enqueue_bulk] if pace.enqueue_bulk else [])]
        seconds += sum(PRODUCER_START + settings.n / rate for rate in rates)
    once = PRODUCER_START + pace.boot + IDLE_SETTLE + pace.stop
    if settings.wants("latency"):
        seconds += once + settings.latency_jobs / settings.latency_rate
    elif settings.wants("memory"):
        seconds += once
    if settings.wants("schedule"):
        seconds += once + pace.schedule_warmup + settings.schedule_max_ahead + PRODUCER_START
    return seconds


def _periodic_seconds(name: str) -> float:
    """Figure 8, run in the first repeat only: boot, two tick boundaries, the window."""
    return PERIODIC_SECONDS.get(name, 0.0)


def _io_seconds(settings: Settings, pace: Pace, workload: str, logging: str) -> float:
    """One repeat of one (workload, logging) pair for one system: its 1- and 2-process drains."""
    if logging == "default" and pace.quiet_by_default and "quiet" in settings.loggings_of(workload):
        return 0.0
    seconds = 0.0
    cap = settings.cap_of(workload)
    for procs in settings.procs or (1, 2):
        noop = _noop_rate(pace, procs)
        n = settings.n_of(workload)
        if workload != "noop" and settings.noop_figures:
            n = min(n, max(1000, round(BACKLOG_MARGIN * noop * cap)))
        rate = noop * IO_FRACTION.get(workload, 1.0)
        seconds += _drain(pace, n, cap, rate, True, SETTLE if workload == "noop" else 0.0)
    return seconds


def estimate_seconds(settings: Settings, systems: Sequence[str]) -> float:
    total = 0.0
    for name in systems:
        pace = PACES.get(name, PACES["dramatiq"])
        per_repeat = _noop_seconds(settings, name, pace) if settings.noop_figures else 0.0
        for workload, logging in settings.io_plan():
            per_repeat += _io_seconds(settings, pace, workload, logging)
        total += per_repeat * settings.repeats
        if settings.wants("periodic"):
            total += _periodic_seconds(name)
    return total
