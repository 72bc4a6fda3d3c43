"""Runs a job alone in its process when one more recovery would bury it.

Recovery charges a job each time a process dies while running it, and buries it as a
poison pill once it was charged more than `max_recoveries` times (recovery.py). A
process that dies with several jobs running cannot tell which one killed it, so all
of them are charged: the jobs that happened to run beside a pill are charged with it.
To keep them from being buried with it, a job whose next charge would bury it (its
payload says it was recovered `max_recoveries` times) runs alone: it waits for the
jobs running beside it to finish, and no other job starts until it is done. A process
that dies while it runs has exactly one job to blame; a job is only ever buried by a
crash it had to itself.

This costs nothing while no such job runs: other jobs only take and give back a shared
slot. Jobs at the brink are rare (they were in flight in `max_recoveries` processes
that died) and run one at a time per process until they finish.

recovery.py writes the count into the payload as `"recoveries":<n>`; `recoveries`
reads it from the raw bytes, before any JSON is parsed. Text elsewhere in a payload
that looks the same can only make a job run alone when it need not, which is slower
but harmless.
"""

from __future__ import annotations

import threading

MARK = b'"recoveries":'


def recoveries(raw: bytes) -> int:
    """The recovery count a payload carries (0 when it has none)."""
    at = raw.find(MARK)
    if at < 0:
        return 0
    start = end = at + len(MARK)
    while end < len(raw) and end - start < 6 and 48 <= raw[end] <= 57:  # ASCII digits
        end += 1
    return int(raw[start:end]) if end > start else 0


def runs_alone(raw: bytes, max_recoveries: int) -> bool:
    """Whether the job must run alone: one more charge would bury it."""
    return recoveries(raw) >= max(1, max_recoveries)


class Isolation:
    """A gate processor threads pass before running a job: shared, or alone."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._alone = False
        self._alone_waiting = 0
        self._holders: dict[int, bool] = {}  # thread id -> holds the gate alone

    def enter(self, *, alone: bool) -> None:
        """Block until the calling thread may run its job (alone, or beside others)."""
        thread_id = threading.get_ident()
        with self._condition:
            if alone:
                self._alone_waiting += 1
                try:
                    self._condition.wait_for(lambda: not (self._alone or self._shared))
                finally:
                    self._alone_waiting -= 1
                self._alone = True
            else:
                # A job waiting to run alone goes first, or a busy process would starve it.
                self._condition.wait_for(lambda: not (self._alone or self._alone_waiting))
                self._shared += 1
            self._holders[thread_id] = alone

    def try_share(self) -> bool:
        """Enter beside others without blocking (the event loop's jobs); False while a
        job runs alone or waits to."""
        with self._condition:
            if self._alone or self._alone_waiting:
                return False
            self._shared += 1
            return True

    def unshare(self) -> None:
        """Give back what `try_share` took."""
        with self._condition:
            self._shared -= 1
            if self._alone_waiting:
                self._condition.notify_all()

    def leave(self, thread_id: int | None = None) -> None:
        """Give back the gate of `thread_id` (the caller's by default); repeats are no-ops.

        The watchdog gives back the gate of a thread it abandons, which may return much
        later and leave again.
        """
        with self._condition:
            alone = self._holders.pop(
                threading.get_ident() if thread_id is None else thread_id, None
            )
            if alone is None:
                return
            if alone:
                self._alone = False
            else:
                self._shared -= 1
            if alone or self._alone_waiting:
                self._condition.notify_all()
