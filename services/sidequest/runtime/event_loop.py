"""The worker process's event loop, on a thread of its own, and its block detector.

Jobs with an `async def perform` share one asyncio loop per process
(async_executor.py). A job that calls blocking code (time.sleep, a synchronous HTTP
client, a long computation) stalls every other job on the loop, and asyncio cannot
interrupt it. So the loop stamps a tick every TICK_SECONDS, and a monitor thread,
independent of the loop, notices when the ticks stop:

1. blocked for more than BLOCKED_SECONDS: log once per block which job holds the loop
   and where (the loop thread's stack), and count it (`on_blocked`)
2. still blocked past the limit `stuck_after()` names for the job holding it (its
   timeout plus `timeout_grace`, as a stuck thread is abandoned): call `on_stuck`
   once, which restarts the process (launcher.py; 60 s for a job without a timeout,
   since the loop's other jobs and their timeouts wait meanwhile); a loop cannot be replaced the way
   the watchdog replaces a stuck thread, since every async job of the process is on it
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable

logger = logging.getLogger("sidequest")

TICK_SECONDS = 0.1
BLOCKED_SECONDS = 1.0
_MONITOR_SECONDS = 0.25


class EventLoopThread:
    """One asyncio loop running forever on a daemon thread.

    The loop is made by `start`: a process that never starts it (no async job classes)
    opens no selector. Callbacks handed over before that run once it starts.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._early: list[Callable[[], object]] = []
        self._early_lock = threading.Lock()
        self.last_tick = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sidequest-event-loop", daemon=True)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        with self._early_lock:
            self._loop = loop
            early, self._early = self._early, []
        for callback in early:
            loop.call_soon(callback)
        self._thread.start()

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.call_soon(self._tick)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _tick(self) -> None:
        self.last_tick = time.monotonic()
        assert self._loop is not None
        self._loop.call_later(TICK_SECONDS, self._tick)

    def blocked_for(self) -> float:
        """Seconds since the loop last ran its ticker, beyond the tick interval."""
        return max(0.0, time.monotonic() - self.last_tick - TICK_SECONDS)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the loop (from any thread)."""
        loop = self._loop
        if loop is None:
            with self._early_lock:
                if self._loop is None:
                    self._early.append(callback)
                    return
                loop = self._loop
        loop.call_soon_threadsafe(callback)

    def stop(self, timeout: float = 1.0) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            return  # closed meanwhile
        if self._thread.is_alive():
            self._thread.join(timeout)

    def stack(self) -> str:
        """Where the loop thread is now (the code that blocks it, when it is blocked)."""
        frame = sys._current_frames().get(self._thread.ident or 0)
        return "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"


class BlockMonitor:
    """Watches an EventLoopThread from a thread of its own."""

    def __init__(
        self,
        loop: EventLoopThread,
        holder: Callable[[], str],
        stuck_after: Callable[[], float],
        on_blocked: Callable[[str], None],
        on_stuck: Callable[[str], None],
    ):
        self.loop = loop
        self.holder = holder
        self.stuck_after = stuck_after
        self.on_blocked = on_blocked
        self.on_stuck = on_stuck
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="sidequest-loop-monitor", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        reported_tick = -1.0
        stuck_reported = False
        while not self._stopped.wait(_MONITOR_SECONDS):
            blocked = self.loop.blocked_for()
            if blocked <= BLOCKED_SECONDS:
                stuck_reported = False
                continue
            tick = self.loop.last_tick
            if tick != reported_tick:
                reported_tick = tick
                who = self.holder()
                logger.warning(
                    "the event loop has been blocked for %.1fs by %s: async jobs must not "
                    "call blocking code (use await, or asyncio.to_thread). It is here:\n%s",
                    blocked,
                    who,
                    self.loop.stack(),
                )
                try:
                    self.on_blocked(who)
                except Exception:
                    logger.exception("reporting a blocked event loop failed")
            if not stuck_reported and blocked > self.stuck_after():
                stuck_reported = True
                who = self.holder()
                logger.error(
                    "the event loop is still blocked after %.1fs by %s, past its limit: "
                    "restarting the worker process",
                    blocked,
                    who,
                )
                self.on_stuck(who)
