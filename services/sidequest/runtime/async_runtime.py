"""The async side of a worker process: which fetched jobs go to the event loop, and
the `async_concurrency` slots they run in.

The fetcher fetches jobs without knowing their kind. Each batch it fetches (and each
job a queue waiter lands) passes through `claim` on its way to the processor threads:
a job whose payload names a class with an `async def perform` is taken here instead
(a peek at the raw bytes, not a JSON parse, so that sync jobs pay nothing for it). A
job is in this process's in-flight hash (or landing list) from its fetch to its
outcome whichever side runs it; only where it waits in memory differs.

Capacity: the manager offers the fetcher the threads' free slots plus ours
(`free`), so the fetcher takes a job only while a thread or an async slot is free.
The kind is known only after the fetch, so a batch can bring more jobs of one kind
than that side has room for: they wait, in the order fetched, in that side's buffer
(here: `_pending`; for threads: the manager's buffer), still in our in-flight hash
and counted as held, so the next fetch is smaller. A process therefore holds at most
`concurrency + prefetch + async_concurrency` jobs. The async slots are offered only
when this process has async job classes at all: a sync-only worker fetches exactly
as before.

Tasks:
1. claim async jobs; hand back those that must run alone (isolation.py: they run on
   a thread, which runs their coroutine to completion) and those the executor finds
   synchronous after all
2. start pending jobs as tasks while fewer than `async_concurrency` run; each task
   shares the isolation gate with the threads
3. collect each outcome for the fetcher (through the manager, in the same Outcomes);
   a job its limits refused leaves without one (the manager forgets it)
4. know what runs, for the heartbeat's work hash, the busy count and shutdown
5. at shutdown: unstarted jobs go back at once (`take_unstarted`); running ones are
   cancelled and pushed back by the launcher (`cancel_for_shutdown`), their outcomes
   dropped
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from sidequest.job import async_perform, registry
from sidequest.payload import ACTIVE_JOB_WRAPPERS
from sidequest.runtime.async_executor import AsyncExecutor, AsyncRun, Reroute, internal_error
from sidequest.runtime.event_loop import EventLoopThread
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.isolation import Isolation, runs_alone
from sidequest.runtime.limits import Left
from sidequest.runtime.outcome import Outcome

logger = logging.getLogger("sidequest")

# The first "class" member of a payload, and ActiveJob's "wrapped" one. JSON writers put
# a job's own members before its arguments (ours, Sidekiq's, ActiveJob's), so the first
# match is the job's; a payload that fools it is run by the other side (REROUTE, or a
# thread running the coroutine to completion), never lost.
_CLASS = re.compile(rb'"class"\s*:\s*"([^"\\]*)"')
_WRAPPED = re.compile(rb'"wrapped"\s*:\s*"([^"\\]*)"')
_WRAPPER_NAMES = frozenset(name.encode() for name in ACTIVE_JOB_WRAPPERS)

# Async runs are listed among the process's work under ids above any thread's.
_SERIAL_BASE = 1 << 48

# How often a job waiting for a job that runs alone (isolation.py) looks again.
_ISOLATION_POLL_SECONDS = 0.05


class Threads(Protocol):
    """What the runtime asks of the manager (manager.py)."""

    def add_outcome(self, outcome: Outcome) -> None: ...

    def run_on_threads(self, job: Fetched) -> None: ...

    def left(self, job: Fetched) -> None: ...


def async_class_names() -> frozenset[bytes]:
    """The registered names (as payloads spell them) of classes with an async perform."""
    names = set()
    for name in registry.registered_names():
        job_class = registry.resolve(name)
        if job_class is not None and async_perform.is_async(job_class):
            names.add(name.encode())
    return frozenset(names)


def peek_class(raw: bytes) -> bytes | None:
    """The class a raw payload names, without parsing it (ActiveJob's wrapped class)."""
    found = _CLASS.search(raw)
    if found is None:
        return None
    name = found.group(1)
    if name in _WRAPPER_NAMES:
        wrapped = _WRAPPED.search(raw)
        if wrapped is not None:
            return wrapped.group(1)
    return name


class AsyncRuntime:
    def __init__(
        self,
        capacity: int,
        executor: AsyncExecutor,
        isolation: Isolation,
        max_recoveries: int,
        wake_for_landing: Callable[[], None],
        names: frozenset[bytes] | None = None,
    ):
        self.capacity = capacity
        self.spare = max(1, capacity // 4)
        self.executor = executor
        self.isolation = isolation
        self.max_recoveries = max_recoveries
        self.wake_for_landing = wake_for_landing
        self.names = async_class_names() if names is None else names
        self.loop = EventLoopThread()
        self.threads: Threads | None = None
        self._lock = threading.Lock()
        self._pending: deque[Fetched] = deque()
        self._running: dict[int, AsyncRun] = {}
        self._held = 0
        self._serial = _SERIAL_BASE
        self._pump_scheduled = False
        self._shutdown = False
        executor.on_abandoned = self._abandoned
        #: how many times the loop was seen blocked (metrics read it)
        self.blocked_count = 0

    @property
    def enabled(self) -> bool:
        """Whether this process has async job classes (else nothing is offered or claimed)."""
        return bool(self.names)

    def start(self, threads: Threads) -> None:
        self.threads = threads
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    # -- the fetcher's side (through the manager) ---------------------------------------

    def free(self) -> int:
        """Jobs to fetch for the loop: its free slots, plus a spare quarter of them.

        The spare keeps the loop fed while a fetch is on its way; `needs_refill` asks
        for one once half of it is gone, so that a fetch brings many jobs at once
        rather than one per finished job.
        """
        if not self.names:
            return 0
        return max(0, self.capacity + self.spare - self._held)

    def overflowing(self) -> bool:
        """Whether more jobs are held than the slots and their spare."""
        return self._held > self.capacity + self.spare

    def needs_refill(self) -> bool:
        return bool(self.names) and self.free() >= (self.spare + 1) // 2

    def claims(self, job: Fetched) -> bool:
        names = self.names
        if not names:
            return False
        name = peek_class(job.raw)
        if name is None or name not in names:
            return False
        # One more crash would bury it: it runs alone, on a thread (isolation.py).
        return not runs_alone(job.raw, self.max_recoveries)

    def submit(self, jobs: list[Fetched]) -> None:
        """Jobs `claims` took: start them as slots free up."""
        with self._lock:
            self._pending.extend(jobs)
            self._held += len(jobs)
            if self._pump_scheduled:
                return
            self._pump_scheduled = True
        self.loop.call_soon(self._pump)

    # -- heartbeat and shutdown side ----------------------------------------------------

    @property
    def held(self) -> int:
        return self._held

    @property
    def busy(self) -> int:
        return len(self._running)

    def running(self) -> list[AsyncRun]:
        with self._lock:
            return list(self._running.values())

    def take_unstarted(self) -> list[Fetched]:
        with self._lock:
            taken = list(self._pending)
            self._pending.clear()
            self._held -= len(taken)
        return taken

    def cancel_for_shutdown(self) -> list[AsyncRun]:
        """Drop the outcomes of the runs still going and cancel them; returns them.

        The launcher pushes their jobs back to their queues, as it does a thread's
        unfinished jobs, so an outcome written after this would ack a job that is
        queued again.
        """
        with self._lock:
            self._shutdown = True
            runs = list(self._running.values())
            self._running.clear()
            self._held = len(self._pending)

        def cancel() -> None:
            for run in runs:
                run.shutdown = True
                if run.task is not None:
                    run.task.cancel()

        with contextlib.suppress(RuntimeError):  # a closed loop has nothing to cancel
            self.loop.call_soon(cancel)
        return runs

    def holder(self) -> str:
        """Which job holds the loop now (for the block monitor)."""
        loop = self.loop.loop
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            return "no job (sidequest's own code on the loop)"
        with self._lock:
            for run in self._running.values():
                if run.task is task:
                    return run.describe()
        return f"a task that is no job ({task.get_name()})"

    def holder_deadline(self, fallback: float) -> float:
        """How long the job holding the loop may block it before the process restarts:
        its timeout plus the grace, or `fallback` seconds for a job without one."""
        loop = self.loop.loop
        task = asyncio.current_task(loop) if loop is not None else None
        with self._lock:
            for run in self._running.values():
                if run.task is task and run.timeout is not None:
                    return run.timeout + self.executor.grace
        return fallback

    # -- the loop's side ----------------------------------------------------------------

    def _pump(self) -> None:
        """Start pending jobs while slots are free (on the loop)."""
        loop = self.loop.loop
        assert loop is not None  # _pump runs on the loop
        lock = self._lock
        with lock:
            self._pump_scheduled = False
        while True:
            with lock:
                if self._shutdown or not self._pending or len(self._running) >= self.capacity:
                    return
                job = self._pending.popleft()
                self._serial += 1
                run = AsyncRun(job, time.time(), self._serial)
                self._running[run.serial] = run
            if job.state is Holding.LANDED:
                self.wake_for_landing()
            run.task = loop.create_task(self._run(run))

    async def _run(self, run: AsyncRun) -> None:
        shared = self.isolation.try_share()
        while not shared:
            await asyncio.sleep(_ISOLATION_POLL_SECONDS)
            shared = self.isolation.try_share()
        try:
            result = await self.executor.execute(run)
        except asyncio.CancelledError:
            if run.shutdown:
                return  # pushed back to its queue by the launcher
            logger.exception("async job %s cancelled outside its timeout", run.describe())
            result = internal_error(run.job)
        except BaseException:
            logger.exception("internal error while running a job from %s", run.job.queue)
            result = internal_error(run.job)
        finally:
            self.isolation.unshare()
        if result is None or run.shutdown:
            return  # abandoned (reported then), or pushed back by a shutdown
        if isinstance(result, Reroute | Left):
            self._handed_off(run, result)
            return
        self._finished(run, result)

    def _handed_off(self, run: AsyncRun, result: Reroute | Left) -> None:
        """A job the threads run after all (Reroute), or one its limits refused: it left
        this process in Redis, with no outcome (Left)."""
        if not self._release(run):
            return
        threads = self.threads
        assert threads is not None
        if isinstance(result, Reroute):
            threads.run_on_threads(run.job)
            return
        threads.left(run.job)
        if self._pending:
            self._pump()

    def _release(self, run: AsyncRun) -> bool:
        """Free the run's slot; False when a shutdown or an abandon already did."""
        with self._lock:
            if self._running.pop(run.serial, None) is None:
                return False
            self._held -= 1
            return True

    def _finished(self, run: AsyncRun, outcome: Outcome) -> None:
        threads = self.threads
        assert threads is not None
        with self._lock:
            if self._running.pop(run.serial, None) is None:
                return
            # Added before the slot is freed: the launcher's "idle" must never be seen
            # while an outcome is on its way to the fetcher.
            threads.add_outcome(outcome)
            self._held -= 1
        if self._pending:
            self._pump()

    def _abandoned(self, run: AsyncRun, outcome: Outcome) -> None:
        self._finished(run, outcome)

    def loop_blocked(self) -> None:
        self.blocked_count += 1
