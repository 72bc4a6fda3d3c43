"""Figures 1 and 5: drain throughput and Redis commands per job; also feeds figure 2.

N jobs are enqueued first (the enqueue is timed and becomes an enqueue-figure
sample when one is wanted), the command statistics are reset, then the
workers start. The clock runs from the first job's start to the last job's
start, both read from the job records, so it measures steady processing; the
boot time (spawn to first job) is kept apart and shown in its own column.
"""

from __future__ import annotations

import time

from bench import records
from bench.figures.context import Context
from bench.figures.workers import WorkerGroup
from bench.samples import DrainSample, EnqueueSample
from bench.systems.base import System

# After the last record appears, the last jobs still have to be acknowledged:
# give them this long before the command statistics are read.
SETTLE = 0.3


def run_drain(
    ctx: Context, system: System, procs: int, repeat: int, mode: str
) -> tuple[DrainSample, EnqueueSample]:
    n = ctx.settings.n
    label = f"{system.name}-drain-p{procs}-r{repeat}"
    ctx.server.reset()
    record = ctx.record_file(label)
    answer = ctx.produce(
        system,
        label,
        "enqueue",
        "--mode",
        mode,
        "--count",
        str(n),
        "--first",
        "0",
        timeout=max(600.0, n / 50),
    )
    enqueued = EnqueueSample(system.name, mode, repeat, n, float(answer["seconds"]))
    ctx.server.client.config_resetstat()
    with WorkerGroup(ctx, system, procs, record, label) as group:
        deadline = time.monotonic() + ctx.settings.drain_cap
        group.wait_until(lambda: records.count(record) >= n, deadline)
        time.sleep(SETTLE)
        commands = ctx.server.command_calls()
        spawned = group.started
    starts, duplicates = records.first_times(records.read(record))
    times = [t for job, t in starts.items() if 0 <= job < n]
    if not times:
        raise RuntimeError(f"no job ran within {ctx.settings.drain_cap:.0f} s")
    sample = DrainSample(
        system=system.name,
        procs=procs,
        repeat=repeat,
        target=n,
        done=len(times),
        duplicates=duplicates,
        seconds=max(times) - min(times),
        boot_seconds=min(times) - spawned,
        capped=len(times) < n,
        commands=commands,
    )
    return sample, enqueued
