"""What a chaos run does: how many jobs, how long, how many workers, how hard to hit them.

Two profiles: `short` runs in `make test` (about a minute), `long` in `make chaos`
(20,000 jobs). The environment picks and adjusts them:

    CHAOS_PROFILE=long      the long profile (default: short)
    CHAOS_SEED=8            the seed of the fault schedule and of the job mix (default:
                            drawn afresh for every run, and printed, so that a failing
                            run can be replayed)
    CHAOS_JOBS=5000         override the number of jobs
    CHAOS_DURATION=60       override the length of the fault window, seconds
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 0
    #: jobs enqueued before the faults start
    jobs: int = 2000
    #: seconds during which faults are injected
    duration: float = 30.0
    #: worker processes; slot 0 is frozen once, slot 1 talks to Redis through the proxy,
    #: the others are killed and terminated at random
    workers: int = 5
    concurrency: int = 4
    heartbeat_interval: float = 0.5
    heartbeat_timeout: float = 3.0
    #: SIGTERM's grace period; jobs running longer go back to their queue
    shutdown_timeout: float = 1.0
    #: mean seconds between SIGKILLs, and between SIGTERMs (Poisson arrivals)
    kill_every: float = 3.0
    term_every: float = 5.0
    #: how long the network stall of the proxied worker lasts (seconds, min and max)
    cut_seconds: tuple[float, float] = (4.0, 6.0)
    #: seconds of writes the Redis crash drops from the AOF tail (everysec's worst case)
    lost_write_seconds: float = 1.0
    #: shares of the jobs that fail once, that always fail, that are scheduled for later
    flaky_share: float = 0.05
    doomed_share: float = 0.01
    scheduled_share: float = 0.05
    #: recoveries before a job counts as a poison pill; high, because a kill storm can hit
    #: the same healthy job several times (poison pills have their own tests)
    max_recoveries: int = 10
    #: seconds to wait for the last jobs after the fault window
    drain_timeout: float = 90.0

    @property
    def threads(self) -> int:
        return self.workers * self.concurrency

    @property
    def mean_job_seconds(self) -> float:
        """Job length that keeps the threads about 60% busy through the fault window."""
        return 0.6 * self.threads * self.duration / self.jobs


PROFILES = {
    "short": ChaosConfig(),
    "long": ChaosConfig(
        jobs=20_000,
        duration=240.0,
        workers=6,
        concurrency=5,
        # Longer than the worker's 10 s socket timeout: commands sent before the stall
        # are given up by the worker and still run on the server after it heals.
        cut_seconds=(12.0, 15.0),
        drain_timeout=300.0,
    ),
}


def from_environment(environ: Mapping[str, str] | None = None) -> ChaosConfig:
    env = os.environ if environ is None else environ
    profile = env.get("CHAOS_PROFILE", "short")
    if profile not in PROFILES:
        raise ValueError(f"CHAOS_PROFILE must be one of {sorted(PROFILES)}, got {profile!r}")
    config = PROFILES[profile]
    changes: dict[str, object] = {}
    changes["seed"] = int(env["CHAOS_SEED"]) if "CHAOS_SEED" in env else draw_seed()
    if "CHAOS_JOBS" in env:
        changes["jobs"] = int(env["CHAOS_JOBS"])
    if "CHAOS_DURATION" in env:
        changes["duration"] = float(env["CHAOS_DURATION"])
    return replace(config, **changes)  # type: ignore[arg-type]


def draw_seed() -> int:
    """A fresh seed for a run that was given none."""
    return secrets.randbelow(1_000_000) + 1


def long_run_requested(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CHAOS_PROFILE") == "long"
