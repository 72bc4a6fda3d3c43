"""The landed jobs of a worker process, from their landing to their settling.

A queue waiter (waiter.py) moves a job into this process's landing list and a
processor starts it at once, before the job is in the in-flight hash (Holding.LANDED,
fetched.py). The fetcher settles it on its next exchange: a plain success is
acknowledged straight from the landing list; any other job is adopted into the
in-flight hash under a field of its own (ADOPTED), or found gone because another
process recovered it meanwhile (GONE, its outcome refused). This module owns that
bookkeeping; exchange.lua does the Redis side.

Tasks:
1. keep the landed jobs not adopted yet (the manager adds and withdraws them), and
   those a waiter holds on their way to the manager
2. sort finished outcomes into a Batch by where their jobs are held, and pick the
   landed jobs the exchange adopts
3. settle the exchange's reply: adopted jobs get their field, recovered ones are gone
4. find stranded landings: payloads in our landing list that this process has not
   heard of at two looks (a waiter's BLMOVE reply that was lost, or writes Redis lost
   in a crash that bring an adopted job back), to run them

State is guarded by the manager's lock: `add` and `withdraw` run under it, so that
the manager counts a job and records it in one step; the fetcher's calls take it.
"""

from __future__ import annotations

import json
import threading

from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.isolation import MARK as RECOVERED_MARK
from sidequest.runtime.outcome import Ack, Batch, Outcome


class Landing:
    def __init__(self, lock: threading.Lock):
        self._lock = lock
        # Landed jobs not adopted yet, in landing order (a dict as an ordered set).
        self._unadopted: dict[Fetched, None] = {}
        # Payloads in our landing list that nobody here knew of at the last look.
        self._suspects: set[bytes] = set()
        # Landed jobs a waiter holds but has not handed over yet (it asks Redis whether
        # their queue was paused first), by payload, with how many of each.
        self._arriving: dict[bytes, int] = {}

    # -- under the manager's lock -------------------------------------------------------

    def add(self, job: Fetched) -> None:
        """A waiter landed `job`, or the fetcher found it stranded: it runs now."""
        self._unadopted[job] = None

    def arriving(self, job: Fetched) -> None:
        """A waiter holds `job`, landed, until `arrived`: not stranded meanwhile."""
        with self._lock:
            self._arriving[job.raw] = self._arriving.get(job.raw, 0) + 1

    def arrived(self, job: Fetched) -> None:
        """The waiter let go of `job`: added (running), put back, or left in the list
        after a failed put-back, for a later look to find stranded and run."""
        with self._lock:
            left = self._arriving.pop(job.raw, 1) - 1
            if left:
                self._arriving[job.raw] = left

    def withdraw(self, jobs: list[Fetched]) -> None:
        """Jobs that never started go back to their queues (quiet, stop)."""
        for job in jobs:
            self._unadopted.pop(job, None)

    # -- the fetcher's ------------------------------------------------------------------

    def partition(self, outcomes: list[Outcome]) -> Batch:
        """Sort `outcomes` by where their jobs are held; pick the landed jobs to adopt.

        A job in the in-flight hash is written by its field. A landed job has no field
        until adopted: a plain success is acknowledged from the landing list by payload,
        anything else (a failure, a unique lock, a start marker) waits one turn, until
        this exchange adopts the job. Outcomes of gone jobs are refused here, as Redis
        would refuse them.
        """
        batch = Batch()
        acks, failures = batch.acks, batch.failures
        fetched, adopted, landed = Holding.FETCHED, Holding.ADOPTED, Holding.LANDED
        acknowledged: set[Fetched] = set()
        for outcome in outcomes:
            job = outcome.job
            state = job.state
            if state is fetched or state is adopted:
                if isinstance(outcome, Ack):
                    if state is adopted and RECOVERED_MARK in job.raw:
                        outcome.marked = True  # exchange.lua marked it when adopting it
                    (acks if outcome.link is None else batch.linked).append(outcome)
                else:
                    failures.append(outcome)
            elif state is landed:
                if isinstance(outcome, Ack) and not (outcome.unique_digest or outcome.marked):
                    (batch.landed_acks if outcome.link is None else batch.linked).append(outcome)
                    acknowledged.add(job)
                else:
                    batch.deferred.append(outcome)
            else:
                batch.refused += 1
        with self._lock:
            batch.adopt = [job for job in self._unadopted if job not in acknowledged]
        return batch

    def settle(self, batch: Batch, fields: list[str]) -> list[Fetched]:
        """After the exchange that wrote `batch`; returns the jobs it adopted.

        `fields` holds, for each job of `batch.adopt`, its new in-flight field, or ""
        when it was no longer in the landing list (recovered by another process).
        """
        adopted: list[Fetched] = []
        for job, field in zip(batch.adopt, fields, strict=True):
            if field:
                job.field = field
                job.state = Holding.ADOPTED
                adopted.append(job)
            else:
                job.state = Holding.GONE
        if batch.adopt or batch.landed_acks or batch.linked:
            with self._lock:
                unadopted = self._unadopted
                for job in batch.adopt:
                    unadopted.pop(job, None)
                for ack in batch.landed_acks:
                    unadopted.pop(ack.job, None)
                for ack in batch.linked:
                    unadopted.pop(ack.job, None)
        return adopted

    def stranded(self, listed: list[bytes]) -> list[Fetched]:
        """The jobs of our landing list (`listed`) to run now: stranded ones.

        A waiter hands a landed job over microseconds after Redis's reply, so a payload
        this process has not heard of at two looks a second apart was stranded. Unknown
        payloads seen once are suspects until the next look. A waiter still holding its
        job (`arriving`) may wait on Redis for up to a socket timeout, past two looks:
        its job is known, or it would run twice at once here.
        """
        with self._lock:
            known = {job.raw for job in self._unadopted}
            known.update(self._arriving)
        unknown = set(listed) - known
        stranded = unknown & self._suspects
        self._suspects = unknown - stranded
        return [Fetched("", _queue_of(raw), raw, Holding.LANDED) for raw in stranded]

    def has_suspects(self) -> bool:
        """Whether payloads in our landing list are unaccounted for: look again soon."""
        return bool(self._suspects)


def _queue_of(raw: bytes) -> str:
    try:
        queue = json.loads(raw).get("queue")
    except (ValueError, AttributeError):
        return ""
    return queue if isinstance(queue, str) else ""
