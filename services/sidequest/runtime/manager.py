"""The processor threads of one worker process and the jobs they hold.

Tasks:
1. run `concurrency` processor threads; replace one the watchdog abandons
2. keep fetched jobs in a local buffer until a thread is free (at most concurrency +
   prefetch jobs are held at once, so a fetch never has to wait for a thread)
3. collect each finished job's outcome for the fetcher (Outcomes), and wake it
4. know which job runs on which thread, for the heartbeat's busy count and work hash
5. run alone a job that one more recovery would bury as a poison pill (isolation.py)
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


@dataclass(slots=True)
class Running:
    job: Fetched
    started_at: float
    thread_id: int


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
        return self.concurrency + self.prefetch.spare() - self._held

    def needs_refill(self) -> bool:
        """Whether a fetch is due: half the spare jobs are gone, or a thread is idle.

        Fetching at every free slot would cost a round trip per job; fetching only when
        the buffer is empty would leave threads waiting for the round trip. The spare
        covers about two round trips of work (prefetch.py), so half of it is left when
        the fetch goes out.
        """
        return self.free_slots() >= (self.prefetch.spare() + 1) // 2

    def dispatch(self, jobs: list[Fetched]) -> None:
        with self._lock:
            self._held += len(jobs)
            self._held_fields.update(job.field for job in jobs)
        for job in jobs:
            self._buffer.put(job)

    def dispatch_landed(self, job: Fetched) -> None:
        """A job a queue waiter moved to our landing list: run it now, adopt it later."""
        with self._lock:
            self._held += 1
            self.landing.add(job)
        self._buffer.put(job)

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
        with self._lock:
            self._held -= len(taken)
            self._held_fields.difference_update(job.field for job in taken)
            self.landing.withdraw(taken)
        return taken

    # -- heartbeat and shutdown side ----------------------------------------------------

    def running(self) -> list[Running]:
        with self._lock:
            return sorted(self._running.values(), key=lambda run: run.started_at)

    @property
    def busy(self) -> int:
        return len(self._running)

    @property
    def idle(self) -> bool:
        return self._held == 0

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
