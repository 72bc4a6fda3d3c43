"""Takes a job the moment it lands in an idle worker's queue, in one round trip.

Lua cannot block, and BRPOP/BLMPOP would take the job out of Redis before it reaches
our in-flight hash, so a SIGKILL at that moment could lose it. Instead each queue gets
a thread blocked in `BLMOVE queue:q sidequest:landing:<identity> RIGHT LEFT` while the
fetcher is idle: Redis moves the job into this process's landing list the moment it
arrives, atomically, and the reply carries it, so a processor can start it at once.
The fetcher later adopts it into the in-flight hash (or acknowledges it straight from
the landing list if it already finished; landing.py keeps that account); recovery
treats the landing list like the in-flight hash. This works for jobs pushed by anyone
(Ruby clients included) and costs one connection per queue, used only while the
fetcher is idle.

Tasks:
1. block on each queue while the fetcher is idle (IdleGate), our lease is known good and
   the queue is not paused (pausing.py)
2. hand a landed job to the processors and wake the fetcher, then wait until the
   fetcher is idle again (one landing per queue per idle period)
3. a job landed after the process quieted goes straight back to its queue
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import redis

from sidequest import keys
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.pausing import PausedQueues

logger = logging.getLogger("sidequest")

BLOCK_SECONDS = 1


class IdleGate:
    """The fetcher's idleness, with a generation that changes at every idle period."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._idle = False
        self._generation = 0
        self._closed = False

    def enter_idle(self) -> None:
        with self._condition:
            if not self._idle:
                self._idle = True
                self._generation += 1
                self._condition.notify_all()

    def leave_idle(self) -> None:
        if self._idle:
            with self._condition:
                self._idle = False

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def wait_idle(self, not_generation: int, timeout: float) -> int | None:
        """The generation once the fetcher is idle in a period other than `not_generation`."""
        with self._condition:
            ready = self._condition.wait_for(
                lambda: self._closed or (self._idle and self._generation != not_generation),
                timeout,
            )
            if not ready or self._closed:
                return None
            return self._generation


class Arrivals(Protocol):
    """What the waiters tell about the jobs they land."""

    def lease_good(self) -> bool:
        """Whether our lease surely holds (after a freeze it may have expired)."""
        ...

    def landed(self, job: Fetched) -> None:
        """A job is in our landing list: run it (or, when quiet, put it back)."""
        ...


class Waiters:
    """One waiting thread per queue."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        queues: Sequence[str],
        gate: IdleGate,
        landing_key: str,
        arrivals: Arrivals,
        pauses: PausedQueues | None = None,
    ):
        self.connect = connect
        self.pauses = pauses
        self.queues = list(queues)
        self.gate = gate
        self.landing_key = landing_key
        self.arrivals = arrivals
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._wait, args=(name,), name=f"sidequest-waiter-{name}", daemon=True
            )
            for name in self.queues
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.gate.close()

    def join(self) -> None:
        """Wait until every waiter returned from its blocking call (at most a block)."""
        for thread in self._threads:
            if thread.is_alive():
                thread.join(BLOCK_SECONDS + 2)

    def _wait(self, name: str) -> None:
        key = keys.queue(name)
        client = self.connect()
        fired_in = -1
        backoff = Backoff(f"queue waiter for {name}")
        while not self._stopped.is_set():
            generation = self.gate.wait_idle(fired_in, timeout=BLOCK_SECONDS)
            if generation is None:
                continue
            if self.pauses is not None and self.pauses.is_paused(name):
                # Not fetched from while paused; a resume wakes us (and the fetcher).
                self.pauses.wait_resumed(name, BLOCK_SECONDS)
                continue
            if not self.arrivals.lease_good():
                # Presumed dead by now, perhaps: landing a job we may not keep would only
                # make it run twice. The heartbeat renews the lease shortly.
                self._stopped.wait(0.05)
                continue
            try:
                found = client.blmove(key, self.landing_key, BLOCK_SECONDS, "RIGHT", "LEFT")
            except redis.RedisError as error:
                self._stopped.wait(backoff.failed(error))
                continue
            backoff.succeeded()
            if found is not None:
                fired_in = generation
                raw = found if isinstance(found, bytes) else str(found).encode()
                self.arrivals.landed(Fetched("", name, raw, Holding.LANDED))
        client.close()
