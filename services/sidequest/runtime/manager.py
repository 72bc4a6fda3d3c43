"""The processor threads of one worker process and the jobs they hold.

Tasks:
1. run `concurrency` processor threads; replace one the watchdog abandons
2. keep fetched jobs in a local buffer until a thread is free (at most concurrency +
   prefetch jobs are held at once, so a fetch never has to wait for a thread)
3. collect each finished job's outcome for the fetcher (Outcomes), and wake it
4. know which job runs on which thread, for the heartbeat's busy count and work hash
5. run alone a job that one more recovery would bury as a poison pill (isolation.py)
6. hand the jobs with an `async def perform` to the event loop (async_runtime.py), which
   returns their outcomes here
Lifecycle: start(), then stop_processors() once the fetcher stopped dispatching.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sidequest.config import Settings
from sidequest.runtime import failure, links
from sidequest.runtime.async_runtime import AsyncRuntime
from sidequest.runtime.cancelling import RunningJob
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.isolation import Isolation, runs_alone
from sidequest.runtime.landing import Landing
from sidequest.runtime.limits import Left
from sidequest.runtime.outcome import Batch, Failure, Outcome, Outcomes
from sidequest.runtime.prefetch import Prefetch
from sidequest.runtime.watchdog import Guard

logger = logging.getLogger("sidequest")

# With an async side: the idle threads ask the fetcher for jobs while more than this
# share of the jobs fetched lately were sync ones (a moving average, this weight per
# fetch).
SYNC_SHARE_WANTED = 0.01
SYNC_SHARE_WEIGHT = 0.2


@dataclass(slots=True)
class Running:
    job: Fetched
    started_at: float
    #: the processor thread's id; for a job on the event loop, an id of its own
    thread_id: int
    is_async: bool = False


class Manager:
    def __init__(
        self,
        settings: Settings,
        executor: Executor,
        wake_fetcher: Callable[[], None],
        wake_for_landing: Callable[[], None] | None = None,
    ):
        self.concurrency = settings.concurrency
        self.prefetch = Prefetch(settings.concurrency, settings.prefetch)
        self.executor = executor
        self.wake_fetcher = wake_fetcher
        self.wake_for_landing = wake_for_landing or wake_fetcher
        self._buffer: queue.SimpleQueue[Fetched | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._held = 0
        # The in-flight fields of the jobs we hold (the fetcher's reconcile asks).
        self._held_fields: set[str] = set()
        self.outcomes = Outcomes()
        # Landed jobs share our lock: one acquisition counts and records each.
        self.landing = Landing(self._lock)
        self._running: dict[int, Running] = {}
        self._threads: list[threading.Thread] = []
        self._serial = 0
        self._isolation = Isolation()
        self._max_recoveries = settings.max_recoveries
        #: the event loop's side, when this process has async job classes (attach_async)
        self.async_side: AsyncRuntime | None = None
        # Moving share of sync jobs among the fetched ones (with an async side only).
        self._sync_share = 1.0

    @property
    def isolation(self) -> Isolation:
        return self._isolation

    def attach_async(self, runtime: AsyncRuntime) -> None:
        """Route async jobs to `runtime`, which must be started with this manager."""
        if runtime.enabled:
            self.async_side = runtime

    def start(self) -> None:
        for _ in range(self.concurrency):
            self._spawn()

    def _spawn(self) -> None:
        self._serial += 1
        thread = threading.Thread(
            target=self._process, name=f"sidequest-processor-{self._serial}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    # -- fetcher side -------------------------------------------------------------------

    def free_slots(self) -> int:
        free = self.concurrency + self.prefetch.spare() - self._held
        side = self.async_side
        if side is None:
            return free
        if side.overflowing():
            # More async jobs wait than the loop has room for (a fetch for the threads
            # brought them): fetch nothing until they start.
            return 0
        room = side.free()
        if self._sync_share > SYNC_SHARE_WANTED:
            return room + free
        # Idle threads ask for jobs only while the queues bring sync jobs: otherwise
        # every fetch would hold a thread's worth of async jobs beyond the loop's room.
        # One slot rides along with a fetch for the loop, so that a sync job is still
        # found among async ones.
        return room + min(free, 1) if room else 0

    def needs_refill(self) -> bool:
        """Whether a fetch is due: half the spare jobs are gone, or a thread is idle.

        Fetching at every free slot would cost a round trip per job; fetching only when
        the buffer is empty would leave threads waiting for the round trip. The spare
        covers about two round trips of work (prefetch.py), so half of it is left when
        the fetch goes out.
        """
        threshold = (self.prefetch.spare() + 1) // 2
        side = self.async_side
        if side is None:
            return self.free_slots() >= threshold
        if side.overflowing():
            return False  # as free_slots: nothing to fetch until the waiting jobs start
        threads = self.concurrency + self.prefetch.spare() - self._held
        wanted = self._sync_share > SYNC_SHARE_WANTED and threads >= threshold
        return wanted or side.needs_refill()

    def dispatch(self, jobs: list[Fetched]) -> None:
        side = self.async_side
        if side is not None:
            with self._lock:
                self._held_fields.update(job.field for job in jobs)
            threads: list[Fetched] = []
            claimed: list[Fetched] = []
            for job in jobs:
                (claimed if side.claims(job) else threads).append(job)
            if claimed:
                side.submit(claimed)
            if jobs:
                share = len(threads) / len(jobs)
                self._sync_share += SYNC_SHARE_WEIGHT * (share - self._sync_share)
            jobs = threads
            with self._lock:
                self._held += len(jobs)
        else:
            with self._lock:
                self._held += len(jobs)
                self._held_fields.update(job.field for job in jobs)
        for job in jobs:
            self._buffer.put(job)

    def dispatch_landed(self, job: Fetched) -> None:
        """A job a queue waiter moved to our landing list: run it now, adopt it later."""
        side = self.async_side
        if side is not None and side.claims(job):
            with self._lock:
                self.landing.add(job)
            side.submit([job])
            return
        with self._lock:
            self._held += 1
            self.landing.add(job)
        self._buffer.put(job)

    def run_on_threads(self, job: Fetched) -> None:
        """A job the event loop found synchronous after all: a thread runs it."""
        with self._lock:
            self._held += 1
        self._buffer.put(job)

    def left(self, job: Fetched) -> None:
        """A job the event loop held left this process at admission (runtime/limits.py):
        no longer ours to acknowledge, requeue or adopt."""
        with self._lock:
            self._held_fields.discard(job.field)
            self.landing.withdraw([job])
        self.wake_fetcher()

    def add_outcome(self, outcome: Outcome) -> None:
        """An outcome from the event loop, for the fetcher.

        Only the first outcome of a batch wakes the fetcher, or one that leaves room
        for a fetch: the fetcher never sleeps past an outcome's linger while outcomes
        wait (fetcher.py), so the others are written with the first. Waking it for each
        of a thousand jobs in flight cost the loop a tenth of its time.
        """
        with self._lock:
            first = not self.outcomes.waiting()
            self.outcomes.add(outcome)
        side = self.async_side
        if first or (side is not None and side.needs_refill()):
            self.wake_fetcher()

    def written(self, batch: Batch, adopted: list[Fetched]) -> None:
        """An exchange wrote `batch`: the fields of its outcomes are no longer ours, and
        those of the landed jobs it adopted are."""
        with self._lock:
            fields = self._held_fields
            fields.difference_update([ack.job.field for ack in batch.acks])
            fields.difference_update([ack.job.field for ack in batch.linked])
            fields.difference_update([failure.job.field for failure in batch.failures])
            if adopted:
                fields.update(job.field for job in adopted)

    def known_fields(self) -> set[str]:
        with self._lock:
            return set(self._held_fields)

    def take_unstarted(self) -> list[Fetched]:
        """Empty the buffer (quiet/stop): these jobs never started and can go back."""
        taken: list[Fetched] = []
        while True:
            try:
                job = self._buffer.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                taken.append(job)
        on_threads = len(taken)
        if self.async_side is not None:
            taken += self.async_side.take_unstarted()  # counted on the loop's side
        with self._lock:
            self._held -= on_threads
            self._held_fields.difference_update(job.field for job in taken)
            self.landing.withdraw(taken)
        return taken

    # -- heartbeat and shutdown side ----------------------------------------------------

    def running(self) -> list[Running]:
        with self._lock:
            runs = list(self._running.values())
        if self.async_side is not None:
            runs += [
                Running(run.job, run.started_at, run.serial, is_async=True)
                for run in self.async_side.running()
            ]
        return sorted(runs, key=lambda run: run.started_at)

    @property
    def busy(self) -> int:
        side = self.async_side
        return len(self._running) + (0 if side is None else side.busy)

    @property
    def idle(self) -> bool:
        side = self.async_side
        return self._held == 0 and (side is None or side.held == 0)

    def stop_processors(self) -> None:
        for _ in self._threads:
            self._buffer.put(None)

    def abandon(self, guard: Guard[TimedRun]) -> None:
        """Watchdog callback: report the stuck job as failed and replace its thread."""
        self._replace_thread(guard.thread_id, self.executor.abandoned_outcome(guard.context))
        logger.warning("abandoned a thread stuck past its job's timeout; started a new one")

    def abandon_cancelled(self, run: RunningJob) -> None:
        """Cancellations callback: report the cancelled job as dropped, replace its thread."""
        self._replace_thread(run.thread_id, self.executor.cancelled_outcome(run))
        logger.warning(
            "abandoned a thread whose cancelled job did not stop within timeout_grace; "
            "started a new one"
        )

    def _replace_thread(self, thread_id: int, outcome: Outcome) -> None:
        self._isolation.leave(thread_id)
        with self._lock:
            self._running.pop(thread_id, None)
            self._held -= 1
            self.outcomes.add(outcome)
            self._spawn()
        self.wake_fetcher()

    # -- processor threads --------------------------------------------------------------

    def _left(self, thread_id: int, job: Fetched) -> None:
        """A job its limits refused left this process in Redis (runtime/limits.py): it is
        no longer ours to acknowledge, requeue or adopt; its buffer slot is free."""
        with self._lock:
            self._running.pop(thread_id, None)
            self._held -= 1
            self._held_fields.discard(job.field)
            self.landing.withdraw([job])
        self.wake_fetcher()

    def _process(self) -> None:
        thread_id = threading.get_ident()
        buffer = self._buffer
        running = self._running
        isolation = self._isolation
        outcomes = self.outcomes
        landed = Holding.LANDED
        while True:
            job = buffer.get()
            if job is None:
                return
            running[thread_id] = Running(job, time.time(), thread_id)
            if job.state is landed:
                # A landed job (waiter.py): the fetcher adopts it and looks for more. Woken
                # here rather than by the waiter so that the job starts first.
                self.wake_for_landing()
            isolation.enter(alone=runs_alone(job.raw, self._max_recoveries))
            started = time.perf_counter()
            try:
                outcome = self.executor.execute(job)
            except BaseException:
                # A bug in sidequest itself, not in the job: keep the job visible.
                logger.exception("internal error while running a job from %s", job.queue)
                error = RuntimeError("internal error in the worker; see its log")
                dead = failure.wrap_malformed(job.raw, job.queue, error, time.time())
                bid, jid = links.member_of_raw(job.raw)
                outcome = Failure(job, "dead", time.time(), dead, jid, None, bid)
            if outcome is None:
                return  # abandoned by the watchdog, which already reported the job
            if isinstance(outcome, Left):
                isolation.leave()
                self._left(thread_id, job)
                continue
            self.prefetch.observe_job(time.perf_counter() - started)
            isolation.leave()
            with self._lock:
                running.pop(thread_id, None)
                self._held -= 1
                outcomes.add(outcome)
            self.wake_fetcher()
