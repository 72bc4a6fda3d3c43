"""sidequest's jobs for the limiter benchmark (bench/limits.py); loaded with ``-r``."""

from __future__ import annotations

import os

import sidequest
from bench.agents import limit_record
from sidequest import Job, limits_concurrency

sidequest.configure(redis_url=os.environ["REDIS_URL"])


class CountJob(Job):
    queue = "bench"

    def perform(self, n: int) -> None:
        limit_record.count()


@limits_concurrency(to=1000)
class NeverBindingJob(Job):
    """A concurrency limit far above the 10 threads that run it: it never refuses."""

    queue = "bench"

    def perform(self, n: int) -> None:
        limit_record.count()


@limits_concurrency(to=3)
class SlotJob(Job):
    queue = "bench"

    def perform(self, n: int, seconds: float) -> None:
        limit_record.held_slot(self.jid, seconds)


def enqueue(kind: str, jobs: int, seconds: float) -> None:
    for n in range(jobs):
        if kind == "plain":
            CountJob.perform_later(n)
        elif kind == "limited":
            NeverBindingJob.perform_later(n)
        else:
            SlotJob.perform_later(n, seconds)
