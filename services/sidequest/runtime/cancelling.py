"""Cancelled jobs in one worker process: dropped before they start, stopped while they run.

api/cancelling.py marks a jid in `sidequest:cancelled` and announces it; the control
listener (control.py) keeps this process's set of marked jids (an announcement within
milliseconds, a full re-read every few seconds and at start-up, so a process started
later knows older marks too).

Tasks:
1. say whether a job about to start is cancelled (the executor then drops it)
2. keep the jobs running now, by thread (the executor enters and leaves each one: two
   dict operations, no lock, no Redis); a job on the event loop (async_executor.py) by
   an id of its own, with `on_cancel`
3. cancel a running job: its `cancelled` becomes true (`check_cancelled()` raises
   JobCancelled); after `grace` seconds, a job still running is abandoned like one past
   its timeout: JobCancelled is raised into its thread, its outcome (dropped, not
   retried) is reported at once and a new thread takes its place. A job on the event
   loop is handed to its `on_cancel` instead, which cancels its task and abandons it
   itself after the grace
A job guarded by the watchdog (it has a timeout) is abandoned once: whichever of the
watchdog and the cancel comes first takes it (`Watchdog.withdraw`).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sidequest import payload
from sidequest.errors import JobCancelled
from sidequest.middleware import JobContext
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.watchdog import Guard

logger = logging.getLogger("sidequest")

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


@dataclass(eq=False, slots=True)
class RunningJob:
    """One execution in progress, as a cancel sees it."""

    thread_id: int
    fetched: Fetched
    job: payload.JobDict
    instance: Any  # the Job instance; Any keeps the runtime free of the job API's types
    context: JobContext
    guard: Guard[Any] | None = None
    #: an async job's: cancels its task (called from any thread); None on a thread
    on_cancel: Callable[[], None] | None = None
    cancelled: bool = False
    finished: bool = False
    abandoned: bool = False

    @property
    def jid(self) -> str:
        return self.context.jid


class Cancellations:
    def __init__(
        self,
        grace: float,
        withdraw_guard: Callable[[Guard[Any]], bool],
        on_abandon: Callable[[RunningJob], None],
    ):
        self.grace = grace
        self.withdraw_guard = withdraw_guard
        self.on_abandon = on_abandon
        self._marked: frozenset[str] = frozenset()
        self._running: dict[int, RunningJob] = {}
        self._lock = threading.Lock()

    # -- the control listener's ---------------------------------------------------------

    def replace(self, jids: set[str]) -> None:
        """Every jid whose mark holds, as read from Redis."""
        self._marked = frozenset(jids)
        self._cancel_running(jids)

    def cancel(self, jid: str) -> None:
        """An announced cancel."""
        self._marked = self._marked | {jid}
        self._cancel_running({jid})

    # -- the executor's -----------------------------------------------------------------

    def is_cancelled(self, jid: str) -> bool:
        return jid in self._marked

    def enter(self, run: RunningJob) -> None:
        self._running[run.thread_id] = run
        # A mark that arrived between the executor's check and now.
        if run.jid in self._marked and not run.cancelled:
            self._cancel(run)

    def leave(self, run: RunningJob) -> bool:
        """The execution ended; True when it had been abandoned (its outcome is reported)."""
        with self._lock:
            run.finished = True
            if self._running.get(run.thread_id) is run:
                del self._running[run.thread_id]
            return run.abandoned

    def forget_thread(self, thread_id: int) -> None:
        """The watchdog abandoned the job on this thread; no cancel can reach it now."""
        with self._lock:
            self._running.pop(thread_id, None)

    # -- internals ----------------------------------------------------------------------

    def _cancel_running(self, jids: set[str]) -> None:
        for run in list(self._running.values()):
            if run.jid in jids and not run.cancelled:
                self._cancel(run)

    def _cancel(self, run: RunningJob) -> None:
        run.cancelled = True
        run.instance._cancelled = True
        if run.on_cancel is not None:
            logger.info(
                "class=%s jid=%s queue=%s cancelled while running on the event loop",
                run.context.job_class,
                run.jid,
                run.context.queue,
            )
            run.on_cancel()
            return
        logger.info(
            "class=%s jid=%s queue=%s cancelled while running; abandoned in %gs unless it stops",
            run.context.job_class,
            run.jid,
            run.context.queue,
            self.grace,
        )
        timer = threading.Timer(self.grace, self._abandon, (run,))
        timer.name = "sidequest-cancel"
        timer.daemon = True
        timer.start()

    def _abandon(self, run: RunningJob) -> None:
        with self._lock:
            if run.finished or run.abandoned:
                return
            if run.guard is not None and not self.withdraw_guard(run.guard):
                return  # the watchdog abandoned it first (its timeout passed)
            run.abandoned = True
            if self._running.get(run.thread_id) is run:
                del self._running[run.thread_id]
            # Stops Python code in the old thread; code blocked in C sees it on return.
            _set_async_exc(ctypes.c_ulong(run.thread_id), ctypes.py_object(JobCancelled))
        try:
            self.on_abandon(run)
        except Exception:
            logger.exception("abandoning a cancelled job failed")


def clear_pending_exception() -> None:
    """Drop a JobCancelled raised into the calling thread that has not landed yet."""
    _set_async_exc(ctypes.c_ulong(threading.get_ident()), None)
