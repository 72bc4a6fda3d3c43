"""The seeded fault schedule and job mix of a chaos run. Pure: the same seed gives the
same plan, so a failing run can be replayed with CHAOS_SEED (each run draws its seed
and prints it)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.chaos.config import ChaosConfig

FROZEN_SLOT = 0
PROXIED_SLOT = 1


@dataclass(frozen=True)
class PlannedFault:
    at: float  # seconds after the fault window opens
    kind: str  # kill, term, freeze, stall, reset, redis-crash
    slot: int | None  # worker slot; None for the Redis crash
    seconds: float = 0.0  # freeze/stall/reset length, or the delay before a restart


@dataclass(frozen=True)
class PlannedJob:
    n: int
    seconds: float
    kind: str  # ok, flaky, doomed
    delay: float  # 0: run now; else scheduled this many seconds after enqueueing


def chaos_slots(config: ChaosConfig) -> list[int]:
    """The slots that get SIGKILL and SIGTERM."""
    return list(range(2, config.workers))


def faults(config: ChaosConfig) -> list[PlannedFault]:
    rng = random.Random(f"faults-{config.seed}")
    window = config.duration
    planned = [
        PlannedFault(
            rng.uniform(0.10, 0.25) * window,
            "freeze",
            FROZEN_SLOT,
            config.heartbeat_timeout + rng.uniform(1.5, 2.5),
        ),
        PlannedFault(
            rng.uniform(0.35, 0.50) * window,
            "stall",
            PROXIED_SLOT,
            rng.uniform(*config.cut_seconds),
        ),
        PlannedFault(rng.uniform(0.60, 0.75) * window, "redis-crash", None),
        PlannedFault(
            rng.uniform(0.80, 0.90) * window, "reset", PROXIED_SLOT, rng.uniform(1.0, 2.0)
        ),
    ]
    targets = chaos_slots(config)
    for kind, every in (("kill", config.kill_every), ("term", config.term_every)):
        at = 0.05 * window
        times = []
        while True:
            at += rng.expovariate(1.0 / every)
            if at > 0.95 * window:
                break
            times.append(at)
        # Every run has at least one of each: the run checks that every kind happened.
        times = times or [rng.uniform(0.3, 0.6) * window]
        for moment in times:
            planned.append(PlannedFault(moment, kind, rng.choice(targets), rng.uniform(0.2, 1.0)))
    return sorted(planned, key=lambda fault: fault.at)


def jobs(config: ChaosConfig) -> list[PlannedJob]:
    """The job mix: mostly short jobs, some long enough to outlive SIGTERM's grace."""
    rng = random.Random(f"jobs-{config.seed}")
    # The shape below has a mean of 0.915 units; scale it to the configured mean.
    unit = config.mean_job_seconds / 0.915
    planned = []
    for n in range(config.jobs):
        pick = rng.random()
        if pick < 0.60:
            seconds = rng.uniform(0.0, 0.25 * unit)
        elif pick < 0.92:
            seconds = rng.uniform(0.25 * unit, 2.0 * unit)
        else:
            seconds = rng.uniform(4.0 * unit, 8.0 * unit)
        pick = rng.random()
        if pick < config.doomed_share:
            kind = "doomed"
        elif pick < config.doomed_share + config.flaky_share:
            kind = "flaky"
        else:
            kind = "ok"
        scheduled = rng.random() < config.scheduled_share
        delay = rng.uniform(1.0, 0.8 * config.duration) if scheduled else 0.0
        planned.append(PlannedJob(n, round(seconds, 4), kind, round(delay, 3)))
    return planned


def longest_job(config: ChaosConfig) -> float:
    return 8.0 * config.mean_job_seconds / 0.915
