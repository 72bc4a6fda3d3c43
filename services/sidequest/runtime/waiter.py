"""Wakes the idle fetcher the moment a job lands in one of its queues.

Lua cannot block, and BRPOP/BLMPOP would take the job out of Redis before it reaches
our in-flight hash, so a SIGKILL at that moment could lose it. Instead each queue
gets a thread blocked in `BLMOVE queue:q queue:q RIGHT RIGHT`: moving the last
element to the same end of the same list changes nothing, but the call returns as
soon as the list is non-empty. That works for jobs pushed by anyone (Ruby clients
included) and costs one connection per queue, used only while the fetcher is idle.

Tasks:
1. block on each queue while the fetcher is idle (IdleGate)
2. wake the fetcher when one returns, then wait until the fetcher is idle again
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import redis

from sidequest import keys

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


class Waiters:
    """One waiting thread per queue."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        queues: Sequence[str],
        gate: IdleGate,
        wake: Callable[[], None],
    ):
        self.connect = connect
        self.queues = list(queues)
        self.gate = gate
        self.wake = wake
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

    def _wait(self, name: str) -> None:
        key = keys.queue(name)
        client = self.connect()
        fired_in = -1
        failures = 0
        while not self._stopped.is_set():
            generation = self.gate.wait_idle(fired_in, timeout=BLOCK_SECONDS)
            if generation is None:
                continue
            try:
                found = client.blmove(key, key, BLOCK_SECONDS, "RIGHT", "RIGHT")
                failures = 0
            except redis.RedisError as error:
                failures += 1
                if failures == 1:
                    logger.warning("queue waiter for %s: %s; retrying", name, error)
                self._stopped.wait(min(2.0, 0.1 * 2**failures))
                continue
            if found is not None:
                fired_in = generation
                self.wake()
        client.close()
