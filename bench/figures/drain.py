"""Figures 1, 5 and 7: drain throughput, Redis commands per job, the I/O workloads; also feeds 2.

N jobs are enqueued first (the enqueue is timed and becomes an enqueue-figure
sample when one is wanted), the command statistics are reset, then the
workers start. The clock runs from the first job's start to the last job's
start, both read from the job records, so it measures steady processing; the
boot time (spawn to first job) is kept apart and shown in its own column.
CPU per job is read from /proc over the same stretch (workers.CpuMeter).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import records
from bench.figures.context import Context
from bench.figures.workers import CpuMeter, WorkerGroup
from bench.samples import DrainSample, EnqueueSample
from bench.systems.base import NOOP_QUIET, System, Variant

# After the last record appears, the last jobs still have to be acknowledged:
# give them this long before the command statistics are read. Only figure 5 (the
# no-op drains) reports commands, so the I/O drains skip the pause.
SETTLE = 0.3


@dataclass(frozen=True)
class Drain:
    """One drain measurement: how many processes, jobs and seconds, doing what."""

    procs: int
    n: int  # jobs enqueued before the workers start
    cap: float  # seconds from spawn after which the drain stops
    mode: str = "bulk"  # how the backlog is enqueued: "single" or "bulk"
    variant: Variant = NOOP_QUIET

    def label(self, system: str, repeat: int) -> str:
        v = self.variant
        if v.workload == "noop" and v.quiet:
            return f"{system}-drain-p{self.procs}-r{repeat}"  # figure 1's, as before workloads
        return f"{system}-{v.workload}-{v.logging}-p{self.procs}-r{repeat}"


def _enqueue(ctx: Context, system: System, drain: Drain, label: str) -> float:
    answer = ctx.produce(
        system,
        label,
        "enqueue",
        "--mode",
        drain.mode,
        "--count",
        str(drain.n),
        "--first",
        "0",
        timeout=max(600.0, drain.n / 50),
    )
    return float(answer["seconds"])


def run_drain(
    ctx: Context, system: System, drain: Drain, repeat: int
) -> tuple[DrainSample, EnqueueSample]:
    n = drain.n
    label = drain.label(system.name, repeat)
    ctx.server.reset()
    record = ctx.record_file(label)
    seconds = _enqueue(ctx, system, drain, label)
    enqueued = EnqueueSample(system.name, drain.mode, repeat, n, seconds)
    ctx.server.client.config_resetstat()
    with WorkerGroup(ctx, system, drain.procs, record, label, drain.variant) as group:
        meter = CpuMeter(group)

        def finished() -> bool:
            meter.poll()
            return group.done() >= n

        group.wait_until(finished, time.monotonic() + drain.cap)
        cpu_seconds, cpu_jobs = meter.finish()
        if drain.variant.workload == "noop":
            time.sleep(SETTLE)
        commands = ctx.server.command_calls()
        spawned = group.started
    starts, duplicates = records.first_times(group.read())
    times = [t for job, t in starts.items() if 0 <= job < n]
    if not times:
        raise RuntimeError(f"no job ran within {drain.cap:.0f} s")
    sample = DrainSample(
        system=system.name,
        procs=drain.procs,
        repeat=repeat,
        target=n,
        done=len(times),
        duplicates=duplicates,
        seconds=max(times) - min(times),
        boot_seconds=min(times) - spawned,
        capped=len(times) < n,
        commands=commands,
        workload=drain.variant.workload,
        logging=drain.variant.logging,
        cpu_seconds=cpu_seconds,
        cpu_jobs=cpu_jobs,
    )
    return sample, enqueued
