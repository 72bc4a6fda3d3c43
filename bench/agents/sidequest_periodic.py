"""sidequest's periodic benchmark job and its schedules (`every: 1`), declared in code;
every worker started with ``-r bench.agents.sidequest_periodic`` publishes them and
takes part in claiming their ticks."""

from __future__ import annotations

import os

import sidequest
from bench.agents import periodic
from sidequest import Job

sidequest.configure(redis_url=os.environ["REDIS_URL"])


class PeriodicBenchJob(Job):
    queue = "default"

    def perform(self, schedule: int) -> None:
        periodic.ran(schedule, int(self.periodic_at or 0))


for index in range(periodic.schedules()):
    sidequest.periodic(f"bench_{index}", PeriodicBenchJob, every=1, args=[index])
