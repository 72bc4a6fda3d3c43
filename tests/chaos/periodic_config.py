"""What a periodic chaos run does: how many `every: 1` schedules, for how long, how many
workers, and the fault settings it hands to the job chaos run's plan (plan.faults).

Two profiles: `short` runs in `make test` (200 schedules x 50 s = 10,000 ticks, about
a minute and a half), `long` in `make chaos` (200 x 240 s = 48,000 ticks). The
environment picks and adjusts them, as for the job chaos run (config.py):

    CHAOS_PROFILE=long      the long profile (default: short)
    CHAOS_SEED=8            the seed of the fault schedule (default: drawn and printed)
    CHAOS_SCHEDULES=100     override the number of schedules
    CHAOS_DURATION=60       override the window of ticks and faults, seconds
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tests.chaos.config import PROFILES as JOB_PROFILES
from tests.chaos.config import ChaosConfig, draw_seed

#: the `missed` policies, given to the schedules in turn
POLICIES = ("skip", "one", "all")
MISSED_LIMIT = 10


@dataclass(frozen=True)
class PeriodicChaosConfig:
    seed: int = 0
    schedules: int = 200
    #: seconds of ticks judged, and of faults
    duration: float = 50.0
    #: the faults' settings: workers, heartbeats, kill and term rates, cuts, lost writes
    faults: ChaosConfig = JOB_PROFILES["short"]

    @property
    def ticks(self) -> int:
        return self.schedules * int(self.duration)

    def fault_config(self) -> ChaosConfig:
        """The job chaos run's config for this run's fault plan (plan.faults)."""
        return replace(self.faults, seed=self.seed, duration=self.duration)

    def policy(self, index: int) -> str:
        return POLICIES[index % len(POLICIES)]


PROFILES = {
    "short": PeriodicChaosConfig(),
    "long": PeriodicChaosConfig(duration=240.0, faults=JOB_PROFILES["long"]),
}


def from_environment(environ: Mapping[str, str] | None = None) -> PeriodicChaosConfig:
    env = os.environ if environ is None else environ
    profile = env.get("CHAOS_PROFILE", "short")
    if profile not in PROFILES:
        raise ValueError(f"CHAOS_PROFILE must be one of {sorted(PROFILES)}, got {profile!r}")
    config = PROFILES[profile]
    seed = int(env["CHAOS_SEED"]) if "CHAOS_SEED" in env else draw_seed()
    config = replace(config, seed=seed)
    if "CHAOS_SCHEDULES" in env:
        config = replace(config, schedules=int(env["CHAOS_SCHEDULES"]))
    if "CHAOS_DURATION" in env:
        config = replace(config, duration=float(env["CHAOS_DURATION"]))
    return config
