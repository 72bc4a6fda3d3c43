"""Stops jobs that run past their timeout.

Python cannot kill a thread. At the deadline the watchdog raises JobTimeoutError
inside the job's thread (PyThreadState_SetAsyncExc), which stops code that is running
Python bytecode, the way Dramatiq's time limits do. Code blocked in C (a long sleep, a
socket read without timeout) only sees it when the call returns, so after a grace
period the watchdog abandons the thread: the job is recorded as failed and retried,
a fresh thread takes its place, and whatever the old thread does later is ignored.

Tasks:
1. keep the deadline of every guarded execution
2. raise JobTimeoutError into a thread at its deadline
3. after `grace` more seconds, hand a still-running execution to `on_abandon`
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sidequest.errors import JobTimeoutError

logger = logging.getLogger("sidequest")

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

# What the guarded thread leaves with the watchdog for `on_abandon` (executor.TimedRun).
C = TypeVar("C")


@dataclass
class Guard(Generic[C]):
    """One guarded execution, shared by the job's thread and the watchdog."""

    thread_id: int
    deadline: float
    context: C
    fired: bool = False
    finished: bool = False
    abandoned: bool = False
    sequence: int = field(default=0)


class Watchdog(Generic[C]):
    def __init__(self, grace: float, on_abandon: Callable[[Guard[C]], None]):
        self.grace = grace
        self.on_abandon = on_abandon
        self._lock = threading.Condition()
        self._guards: dict[int, Guard[C]] = {}
        self._sequence = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sidequest-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()

    def begin(self, timeout: float, context: C) -> Guard[C]:
        """Guard the calling thread's execution for `timeout` seconds."""
        with self._lock:
            self._sequence += 1
            guard = Guard(
                threading.get_ident(), time.monotonic() + timeout, context, sequence=self._sequence
            )
            self._guards[guard.sequence] = guard
            self._lock.notify_all()
        return guard

    def end(self, guard: Guard[C]) -> None:
        """Called by the job's thread when perform returned or raised."""
        with self._lock:
            guard.finished = True
            self._guards.pop(guard.sequence, None)
            fired = guard.fired
        if fired:
            # The exception may still be pending (perform returned just before it
            # landed); clear it so it cannot hit the worker's own code afterwards.
            _set_async_exc(ctypes.c_ulong(guard.thread_id), None)

    def withdraw(self, guard: Guard[C]) -> bool:
        """Take an execution back to abandon it elsewhere (a cancel, cancelling.py).

        False when it finished or the watchdog abandoned it already: then the caller
        must not report it a second time. True marks it abandoned, so the executor
        reports nothing when perform returns.
        """
        with self._lock:
            if guard.finished or guard.abandoned:
                return False
            guard.abandoned = True
            self._guards.pop(guard.sequence, None)
            return True

    def _run(self) -> None:
        while True:
            to_abandon: list[Guard[C]] = []
            with self._lock:
                if self._stopped:
                    return
                now = time.monotonic()
                wake = now + 1.0
                for guard in list(self._guards.values()):
                    if not guard.fired:
                        if now >= guard.deadline:
                            guard.fired = True
                            _set_async_exc(
                                ctypes.c_ulong(guard.thread_id), ctypes.py_object(JobTimeoutError)
                            )
                            wake = min(wake, guard.deadline + self.grace)
                        else:
                            wake = min(wake, guard.deadline)
                    elif now >= guard.deadline + self.grace:
                        guard.abandoned = True
                        self._guards.pop(guard.sequence, None)
                        to_abandon.append(guard)
                    else:
                        wake = min(wake, guard.deadline + self.grace)
                if not to_abandon:
                    self._lock.wait(max(0.0, wake - now))
            for guard in to_abandon:
                try:
                    self.on_abandon(guard)
                except Exception:
                    logger.exception("abandoning a timed-out job failed")
