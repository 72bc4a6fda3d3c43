"""The job of the periodic chaos run: it records every execution in the witness Redis.

Each execution appends `<schedule> <periodic_at> <jid> <pid> <start>` to the list
`witness:periodic` of the witness (chaos_jobs.witness: a second redis-server that no
fault touches), so the record of which ticks ran, and under which jids, survives
worker kills and the job Redis losing writes.
"""

from __future__ import annotations

import os
import time

from sidequest import Job
from tests.chaos.chaos_jobs import witness

RUNS = "witness:periodic"


class PeriodicChaosJob(Job):
    # A failed run would retry under the same jid: nothing here fails but Redis calls.
    retry = 5

    def perform(self, name: str) -> None:
        line = f"{name} {self.periodic_at} {self.jid} {os.getpid()} {time.time()!r}"
        witness().rpush(RUNS, line)
