"""sidequest's side of the benchmark job; the worker loads it with ``-r``."""

from __future__ import annotations

import os

import sidequest
from bench.agents.workload import job
from sidequest import Job

sidequest.configure(redis_url=os.environ["REDIS_URL"])


class NoopJob(Job):
    queue = "default"

    def perform(self, n: int) -> None:
        job(n)
