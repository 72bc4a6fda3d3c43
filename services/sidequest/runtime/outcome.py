"""How executions ended, on their way from the processor threads to Redis.

Ack and Failure are plain slotted dataclasses rather than frozen ones: one is built
per job, and frozen dataclasses pay for `object.__setattr__` on every field. Each
carries its job: where the job is held (fetched.py) decides how the fetcher writes
the outcome, which landing.py sorts into a Batch for one exchange.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from dataclasses import field as default
from typing import Literal

from sidequest.runtime.fetched import Fetched

# What fail.lua does with a failed execution: schedule a retry, bury it, or drop it.
FailureMode = Literal["retry", "dead", "discard"]


@dataclass(slots=True)
class Link:
    """What a success writes beyond its acknowledgement, in the same script call: its
    batch's bookkeeping (batch_lib.lua) and the next step of its chain (batches/links.py)."""

    bid: str  # "" outside a batch
    jid: str  # the member that succeeded
    next_queue: str = ""  # the next chain step's queue, "" at the end of a chain
    next_payload: str = ""
    next_jid: str = ""


@dataclass(slots=True)
class Ack:
    """Succeeded: remove from the in-flight hash, count, release the unique lock."""

    job: Fetched
    jid: str = ""
    unique_digest: str | None = None
    #: the job carried a start marker (it had been recovered before)
    marked: bool = False
    #: a batch member or a chain step: written as a linked acknowledgement
    link: Link | None = None


@dataclass(slots=True)
class Failure:
    """Failed: move to `retry` (at `score`), to `dead`, or drop it (discard)."""

    job: Fetched
    mode: FailureMode
    score: float
    payload: str
    jid: str = ""
    unique_digest: str | None = None
    #: the job's batch ("" for none): fail.lua counts the outcome there
    bid: str = ""


Outcome = Ack | Failure


@dataclass(slots=True)
class Batch:
    """What one exchange writes, sorted by where each job is held (landing.py).

    Attributes:
        acks: successes of jobs in the in-flight hash, removed by field.
        failures: failures of jobs in the in-flight hash, written by fail.lua.
        landed_acks: successes of landed jobs not adopted yet, removed from the landing
            list by payload.
        linked: successes with a Link (batch member, chain step), held in the hash or
            landed: exchange.lua acknowledges each on its own and writes its link.
        adopt: landed jobs to move into the in-flight hash, under fields the store picks.
        deferred: outcomes of landed jobs that need a field (a failure, a unique lock, a
            start marker): written on the next turn, once this exchange adopted them.
        refused: outcomes of jobs another process recovered before we adopted them.
    """

    acks: list[Ack] = default(default_factory=list)
    failures: list[Failure] = default(default_factory=list)
    landed_acks: list[Ack] = default(default_factory=list)
    linked: list[Ack] = default(default_factory=list)
    adopt: list[Fetched] = default(default_factory=list)
    deferred: list[Outcome] = default(default_factory=list)
    refused: int = 0


class Outcomes:
    """Finished executions waiting for the fetcher, oldest first.

    Processor threads add under the manager's lock; only the fetcher takes them and
    puts back the ones it could not write. Deque appends and pops are thread-safe.
    """

    def __init__(self) -> None:
        self._queue: deque[Outcome] = deque()
        # When the oldest outcome not yet taken by the fetcher was added (monotonic).
        self._since: float | None = None

    def add(self, outcome: Outcome) -> None:
        """Under the manager's lock."""
        if not self._queue:
            self._since = time.monotonic()
        self._queue.append(outcome)

    def take(self) -> list[Outcome]:
        taken: list[Outcome] = []
        queue = self._queue
        self._since = None
        while queue:
            taken.append(queue.popleft())
        if queue:  # appended while we took them: they start a new wait
            self._since = time.monotonic()
        return taken

    def put_back(self, outcomes: list[Outcome]) -> None:
        """Outcomes that could not be written (Redis down, or deferred) go back to the front."""
        self._queue.extendleft(reversed(outcomes))
        if outcomes and self._since is None:
            self._since = time.monotonic()

    def waiting(self) -> bool:
        return bool(self._queue)

    def oldest(self) -> float | None:
        """When the oldest outcome waiting for the fetcher arrived (monotonic), if any."""
        if not self._queue:
            return None
        since = self._since
        return time.monotonic() if since is None else since
