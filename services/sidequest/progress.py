"""A running job's progress: `self.progress(done, total=None, message="")` inside `perform`.

    class ProcessReportJob(Job):
        def perform(self, report_id):
            for index, day in enumerate(days, 1):
                build(day)
                self.progress(index, total=len(days), message=f"{day:%Y-%m-%d} built")

The worker installs a sink (`sidequest.progress_recorder.ProgressRecorder`, which
writes `sidequest:progress:<jid>` in Redis); `sidequest.api.progress(jid)` reads it.
Writes are throttled per job to at most `MAX_WRITES_PER_SECOND`: a call between two
writes only keeps its values, which the next call past the interval, the worker's next
heartbeat, or the job's end writes. A job that never calls `progress` costs nothing.

Outside a worker (perform_now, inline test adapters) there is no sink: the values are
only kept on the job (`job.last_progress`), so jobs need no Redis to report progress.
This module imports no Redis client: the job API uses it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

#: writes per second and job, at most
MAX_WRITES_PER_SECOND = 4
MIN_INTERVAL = 1.0 / MAX_WRITES_PER_SECOND
#: longest message kept (characters)
MAX_MESSAGE = 200


@dataclass(frozen=True)
class Update:
    """One progress report: `done` out of `total` (None: unknown), with a message."""

    done: float
    total: float | None
    message: str
    at: float


class Sink(Protocol):
    def write(self, jid: str, update: Update) -> None:
        """Store `update` as the job's progress (may raise; the caller logs it)."""
        ...


class Throttle:
    """Per-job throttling: which updates to write now and which to keep for later."""

    def __init__(self, sink: Sink, interval: float = MIN_INTERVAL):
        self.sink = sink
        self.interval = interval
        self._lock = threading.Lock()
        # jid -> (monotonic time of the last write, the update waiting to be written)
        self._state: dict[str, tuple[float, Update | None]] = {}

    def report(self, jid: str, update: Update) -> None:
        now = time.monotonic()
        with self._lock:
            last, _ = self._state.get(jid, (float("-inf"), None))
            if now - last < self.interval:
                self._state[jid] = (last, update)
                return
            self._state[jid] = (now, None)
        self.sink.write(jid, update)

    def flush(self, jid: str | None = None) -> None:
        """Write the waiting updates (of one job, or of all) whose interval has passed,
        or all of them when `jid` is given (the job ended)."""
        now = time.monotonic()
        due: list[tuple[str, Update]] = []
        with self._lock:
            for key, (last, waiting) in list(self._state.items()):
                if waiting is None or (jid is not None and key != jid):
                    continue
                if jid is None and now - last < self.interval:
                    continue
                self._state[key] = (now, None)
                due.append((key, waiting))
        for key, update in due:
            self.sink.write(key, update)

    def reported(self, jid: str) -> bool:
        """Whether the job reported progress (a lock-free look: a dict lookup is atomic)."""
        return jid in self._state

    def forget(self, jid: str) -> bool:
        """Drop a job's state once it ended; True when it had reported progress."""
        with self._lock:
            return self._state.pop(jid, None) is not None


_throttle: Throttle | None = None


def install(throttle: Throttle | None) -> None:
    """Set this process's throttle (the worker's ProgressRecorder does), or remove it."""
    global _throttle
    _throttle = throttle


def report(jid: str, done: float, total: float | None = None, message: str = "") -> Update:
    """Record one job's progress; see the module docstring. Returns the update."""
    if isinstance(done, bool) or not isinstance(done, int | float):
        raise TypeError(f"progress done must be a number, not {done!r}")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int | float)):
        raise TypeError(f"progress total must be a number or None, not {total!r}")
    update = Update(
        float(done),
        None if total is None else float(total),
        str(message)[:MAX_MESSAGE],
        time.time(),
    )
    throttle = _throttle
    if throttle is not None and jid:
        throttle.report(jid, update)
    return update
