"""Figures 3, 4 and 6: one worker process, idle, then a trickle of work.

Each session starts a single worker process on an empty server and sends it a
warm-up job; the worker counts as ready and idle once that job ran. Then:

- memory (6): one second later, RSS and PSS summed over the worker's processes;
- latency (3): the producer sends jobs at a fixed rate, noting the wall-clock
  time just before each enqueue call; latency is the job's start time minus
  that (same machine, same clock);
- schedule (4), in a session of its own so a backlog left by figure 3 cannot
  delay it: the producer schedules jobs due at whole milliseconds spread over
  the window; lateness is start minus due, negative means it started early.
"""

from __future__ import annotations

import math
import time

from bench import records
from bench.figures.context import Context
from bench.figures.workers import WorkerGroup
from bench.samples import DelaySample, MemorySample
from bench.stats import percentile
from bench.systems.base import System

WARMUP_JOB = -1
BOOT_TIMEOUT = 60.0
IDLE_SETTLE = 1.0
# Scheduled jobs get arguments of their own, apart from the latency jobs'.
SCHEDULE_FIRST = 100_000


def _start_idle(ctx: Context, system: System, group: WorkerGroup, label: str) -> None:
    ctx.produce(system, label, "enqueue", "--count", "1", "--first", str(WARMUP_JOB), timeout=120)
    if not group.wait_until(
        lambda: records.count(group.record) >= 1, time.monotonic() + BOOT_TIMEOUT
    ):
        raise RuntimeError(f"the warm-up job did not run within {BOOT_TIMEOUT:.0f} s")
    time.sleep(IDLE_SETTLE)


def _delays(
    system: System, kind: str, repeat: int, expected: list[tuple[int, float]], group: WorkerGroup
) -> DelaySample:
    starts, _ = records.first_times(records.read(group.record))
    delays = [starts.get(n, math.inf) - t for n, t in expected]
    done = sum(1 for d in delays if math.isfinite(d))
    return DelaySample(
        system=system.name,
        kind=kind,
        repeat=repeat,
        sent=len(expected),
        done=done,
        p50=percentile(delays, 0.50),
        p99=percentile(delays, 0.99),
        max=max(delays),
        min=min(delays),
        early=sum(1 for d in delays if d < 0),
        producer_lag=0.0,
    )


def run_idle(
    ctx: Context, system: System, repeat: int, *, memory: bool, latency: bool
) -> tuple[MemorySample | None, DelaySample | None]:
    label = f"{system.name}-idle-r{repeat}"
    settings = ctx.settings
    ctx.server.reset()
    record = ctx.record_file(label)
    sent_file = ctx.record_file(label + "-sent")
    with WorkerGroup(ctx, system, 1, record, label) as group:
        _start_idle(ctx, system, group, label)
        used = None
        if memory:
            rss, pss, count = group.memory()
            used = MemorySample(system.name, repeat, rss, pss, count)
        if not latency:
            return used, None
        k = settings.latency_jobs
        answer = ctx.produce(
            system,
            label,
            "stream",
            "--rate",
            str(settings.latency_rate),
            "--count",
            str(k),
            "--first",
            "0",
            "--out",
            str(sent_file),
            timeout=k / settings.latency_rate + 120,
        )
        deadline = time.monotonic() + settings.straggler_wait
        group.wait_until(lambda: records.count(record) >= k + 1, deadline)
        sample = _delays(system, "latency", repeat, records.read(sent_file), group)
        sample.producer_lag = float(answer.get("worst_lag", 0.0))
        return used, sample


def run_schedule(ctx: Context, system: System, repeat: int) -> DelaySample:
    label = f"{system.name}-schedule-r{repeat}"
    settings = ctx.settings
    ctx.server.reset()
    record = ctx.record_file(label)
    due_file = ctx.record_file(label + "-due")
    with WorkerGroup(ctx, system, 1, record, label) as group:
        _start_idle(ctx, system, group, label)
        time.sleep(system.schedule_warmup)
        count = settings.schedule_jobs
        ctx.produce(
            system,
            label,
            "schedule",
            "--count",
            str(count),
            "--first",
            str(SCHEDULE_FIRST),
            "--min-ahead",
            str(settings.schedule_min_ahead),
            "--max-ahead",
            str(settings.schedule_max_ahead),
            "--out",
            str(due_file),
            timeout=120,
        )
        due = records.read(due_file)
        last_due = max(t for _, t in due)
        wait = last_due - time.time() + settings.straggler_wait
        group.wait_until(lambda: records.count(record) >= count + 1, time.monotonic() + wait, 0.05)
        return _delays(system, "schedule", repeat, due, group)
