"""The callback job of the batch chaos run: it records each run in the witness Redis.

    <event> <bid> <pid>     appended to `witness:callbacks` per execution

Runs may repeat (a callback is an ordinary job, delivered at least once); the run
checks that each callback was pushed exactly once from the job Redis's AOF, and here
only that each one ran.
"""

from __future__ import annotations

import os

from sidequest import Job
from tests.chaos.chaos_jobs import witness

CALLBACKS = "witness:callbacks"


class BatchCallbackJob(Job):
    retry = 0

    def perform(self, event: str) -> None:
        bid = self.payload["batch_callback"]["bid"]
        witness().rpush(CALLBACKS, f"{event} {bid} {os.getpid()}")
