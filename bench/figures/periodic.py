"""Figure 8: periodic jobs, two scheduler instances: tick lateness, duplicated and
missed ticks (issue 16).

Each system runs its own periodic facility with two scheduler instances started
together, as two hosts would run them (`System.periodic`: sidequest's and arq's
workers, two Celery beats, two `rq cron` processes, two Huey consumers), and every
run of a periodic job appends a record (bench/agents/periodic.py): its schedule,
its tick where the system tells the job (sidequest's `periodic_at`, arq's cron job
id), and its start time. A run that does not know its tick belongs to the tick its
start falls in (at most 50 ms early).

Several schedules run side by side so that 300 ticks take a minute (5 schedules x 60
ticks of 1 s) rather than five; Huey, whose finest tick is the minute, runs 100
schedules for 3 minutes. The window opens at the second tick boundary after the first
run (start-up catch-up stays out of it) and closes after `ticks_each` ticks; runs
are awaited until 5 s after it. Then, per (schedule, tick) in the window:
- duplicated: runs beyond the first;
- missed: ticks with no run;
- lateness: the first run's start - the tick (tick to job start, which includes the
  queue's own delivery, as a user sees it).
"""

from __future__ import annotations

import math
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable

from bench import procs, records
from bench.agents.periodic import TICK_SPAN
from bench.figures.context import Context
from bench.samples import PeriodicSample
from bench.stats import percentile
from bench.systems.base import PeriodicPlan, System

BOOT_TIMEOUT = 90.0
#: a run that does not know its tick may start this much before it and still be its
EARLY_TOLERANCE = 0.05
STRAGGLERS = 5.0


def run_periodic(ctx: Context, system: System, repeat: int) -> PeriodicSample | None:
    label = f"{system.name}-periodic-r{repeat}"
    ctx.server.reset()
    record = ctx.record_file(label)
    plan = system.periodic(ctx.paths, ctx.server.url, record)
    if plan is None:
        return None
    processes = []
    try:
        for index, launch in enumerate(plan.launches):
            log = ctx.paths.logs / f"{label}.process{index}.log"
            processes.append(procs.spawn(launch.argv, env=launch.env, cwd=ctx.paths.repo, log=log))
        if not _wait(processes, lambda: records.count(record) > 0, BOOT_TIMEOUT, label):
            raise RuntimeError(f"{label}: no periodic job ran within {BOOT_TIMEOUT:.0f} s")
        first = min(t for _, t in records.read(record))
        opens = (math.floor(first / plan.period) + 2) * plan.period
        closes = opens + plan.ticks_each * plan.period
        _wait(processes, lambda: False, closes + STRAGGLERS - time.time(), label)
    finally:
        procs.stop_many(processes, grace=3.0)
    return judge(system.name, repeat, plan, records.read(record), opens, closes)


def _wait(
    processes: list[subprocess.Popen[bytes]],
    done: Callable[[], bool],
    seconds: float,
    label: str,
) -> bool:
    """Poll `done()` for up to `seconds`; raise if a process exited meanwhile."""
    deadline = time.monotonic() + seconds
    while not done():
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{label}: process {process.pid} exited {process.returncode}")
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def tick_of(packed: int, started: float, period: float) -> tuple[int, float]:
    """(schedule, tick) of a record: the job's own tick, or the one its start falls in."""
    schedule, tick = divmod(packed, TICK_SPAN)
    if tick:
        return schedule, float(tick)
    return schedule, math.floor((started + EARLY_TOLERANCE) / period) * period


def judge(
    system: str,
    repeat: int,
    plan: PeriodicPlan,
    runs: list[tuple[int, float]],
    opens: float,
    closes: float,
) -> PeriodicSample:
    starts: dict[tuple[int, float], list[float]] = defaultdict(list)
    for packed, started in runs:
        schedule, tick = tick_of(packed, started, plan.period)
        if opens <= tick < closes:
            starts[(schedule, tick)].append(started)
    ticks = [opens + k * plan.period for k in range(plan.ticks_each)]
    lateness = []
    duplicated = missed = early = 0
    for schedule in range(plan.schedules):
        for tick in ticks:
            found = starts.get((schedule, tick), [])
            if not found:
                missed += 1
                continue
            duplicated += len(found) - 1
            lateness.append(min(found) - tick)
            early += sum(1 for started in found if started < tick)
    return PeriodicSample(
        system=system,
        repeat=repeat,
        api=plan.api,
        instances=plan.instances,
        period=plan.period,
        schedules=plan.schedules,
        ticks=plan.schedules * plan.ticks_each,
        ran=len(lateness),
        duplicated=duplicated,
        missed=missed,
        early=early,
        p50=percentile(lateness, 0.50),
        p99=percentile(lateness, 0.99),
        max=max(lateness, default=math.nan),
    )
