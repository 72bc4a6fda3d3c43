"""This process's view of the paused queues (api/pausing.py), for its queue waiters.

The fetch itself needs no view: exchange.lua skips the queues in `paused` in the same
Lua step as its pops. The waiters (waiter.py) block on each queue while the fetcher is
idle; they must not block on a paused queue, and a resume must let them block again
and wake the fetcher at once, since jobs may have piled up. The control listener
(control.py) keeps this view: an announcement within milliseconds, a full re-read
every few seconds. A waiter already blocked when a pause arrives may still land a job
until its block ends (at most a second); the launcher checks `paused` in Redis for
every landed job and puts a job landed after the pause back at the front of its queue
(`note_paused` then keeps that waiter from blocking again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


class PausedQueues:
    def __init__(self, on_resume: Callable[[], None] = lambda: None):
        self.on_resume = on_resume
        self._paused: frozenset[str] = frozenset()
        self._condition = threading.Condition()
        self._closed = False

    def is_paused(self, queue: str) -> bool:
        return queue in self._paused

    def names(self) -> frozenset[str]:
        return self._paused

    def replace(self, names: Iterable[str]) -> None:
        """The whole set, as read from Redis."""
        self._set(frozenset(names))

    def note_paused(self, queue: str) -> None:
        self._set(self._paused | {queue})

    def note_resumed(self, queue: str) -> None:
        self._set(self._paused - {queue})

    def _set(self, names: frozenset[str]) -> None:
        with self._condition:
            resumed = bool(self._paused - names)
            self._paused = names
            self._condition.notify_all()
        if resumed:
            self.on_resume()

    def wait_resumed(self, queue: str, timeout: float) -> bool:
        """Block while `queue` is paused, at most `timeout` seconds; True once it is not."""
        with self._condition:
            return (
                self._condition.wait_for(lambda: self._closed or queue not in self._paused, timeout)
                and not self._closed
            )

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
