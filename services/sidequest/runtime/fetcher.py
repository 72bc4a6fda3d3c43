"""The one thread that exchanges jobs with Redis for a worker process.

Tasks:
1. write finished jobs' outcomes (acks, retries, deaths) in batches
2. in the same round trip, fetch as many jobs as there are free slots, in queue order
3. when the queues are empty, sleep until a waiter sees a job arrive or a thread
   finishes one
4. on Redis errors keep the outcomes, back off, and reconcile the in-flight hash once
   Redis answers again (a fetch whose reply was lost may have moved jobs)
5. reconcile it every `heartbeat_timeout` seconds too: an entry can appear there without
   any error this process could see (a Redis that lost its last second of writes brings
   back jobs already acknowledged; a fetch sent before a network stall runs on the
   server after the worker gave up on it), and nothing else would ever run it while
   this process lives
6. in the same round trips, settle the jobs the queue waiters landed (landing.py):
   acknowledge or adopt them, and run the ones stranded in our landing list
7. before dispatching a batch, let the limits admit its concurrency-limited jobs in one
   round trip (runtime/limits.py); the refused ones already left the process
Lifecycle: start(); quiet() stops fetching and returns once no fetch is in progress
(the launcher then hands the unstarted jobs back); stop() writes the last outcomes
and ends the thread.

Batching is what makes reliable fetch cheap: with 10 threads busy, one round trip
acknowledges and replaces about 10 jobs, well under one Redis command per job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from sidequest import keys
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.manager import Manager
from sidequest.runtime.outcome import Outcome
from sidequest.runtime.queue_order import QueueOrder
from sidequest.runtime.store.inflight import InflightStore
from sidequest.runtime.waiter import IdleGate

logger = logging.getLogger("sidequest")

# Without waiters (or if one failed silently) the idle fetcher still looks this often.
IDLE_POLL_SECONDS = 2.0

# How long a finished job's outcome may wait for companions before it is written, while
# the threads still have fetched jobs to run. A round trip per finished job costs the
# process more than the job itself when jobs wait on I/O (the fetcher would take the GIL
# for every one); waiting for the buffer to run low writes a few at once.
OUTCOME_LINGER_SECONDS = 0.005


class Fetcher:
    def __init__(
        self,
        store: InflightStore,
        manager: Manager,
        order: QueueOrder,
        gate: IdleGate,
        on_lease_lost: Callable[[], None],
        reconcile_every: float,
        admit: Callable[[list[Fetched]], list[Fetched]] | None = None,
    ):
        self.store = store
        self.manager = manager
        self.outcomes = manager.outcomes
        self.landing = manager.landing
        self.order = order
        self.gate = gate
        self.on_lease_lost = on_lease_lost
        #: runtime/limits.py: admits a batch's limited jobs before dispatch; returns the
        #: jobs to run (refused ones left the process)
        self.admit = admit
        self.wakeup = threading.Event()
        self._quiet = False
        self._stopping = False
        self._quiet_seen = threading.Event()
        self._reconcile = False
        self._reconcile_every = reconcile_every
        self._next_reconcile = time.monotonic() + self._reconcile_every
        self._backoff = Backoff("fetcher")
        self._sleeping = False
        self._sleep_until = 0.0
        self._thread = threading.Thread(target=self._run, name="sidequest-fetcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self.wakeup.set()

    def job_finished(self) -> None:
        """A processor has an outcome ready: wake the fetcher if it has work to do.

        While the fetcher is in a round trip it collects outcomes on its next turn
        anyway; skipping the Event keeps a lock and a futex wake off every job. A
        sleeping fetcher is woken when the threads are about to run out of fetched jobs,
        or when it sleeps longer than an outcome may linger (it then sleeps again until
        the linger ends, collecting the outcomes that finish meanwhile).
        """
        if self._sleeping and (
            self.manager.needs_refill()
            or self._sleep_until > time.monotonic() + OUTCOME_LINGER_SECONDS
        ):
            self.wakeup.set()

    def job_landed(self) -> None:
        """A landed job started: adopt it and look for the ones that followed it."""
        if self._sleeping:
            self.wakeup.set()

    def _sleep(self, timeout: float) -> None:
        self._sleep_until = time.monotonic() + timeout
        self._sleeping = True
        try:
            # A job may have finished after the last look, before the processor could see
            # us sleeping: check again what it would have woken us for.
            if timeout < IDLE_POLL_SECONDS:
                if self.manager.needs_refill():
                    return
            elif self.outcomes.waiting():
                return
            self.wakeup.wait(timeout)
        finally:
            self._sleeping = False

    def quiet(self, timeout: float = 10.0) -> None:
        """Stop fetching; returns once no fetch is in progress."""
        self._quiet = True
        self.wakeup.set()
        self._quiet_seen.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write the remaining outcomes and end the thread."""
        self._quiet = True
        self._stopping = True
        self.wakeup.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while self._step():
            pass

    def _step(self) -> bool:
        """One exchange with Redis, or one wait; False once the thread should end."""
        self.wakeup.clear()
        if self._quiet:
            self._quiet_seen.set()
        stopping = self._stopping
        limit = 0 if self._quiet else self.manager.free_slots()
        if self._slept_to_gather(limit):
            return True
        outcomes = self.outcomes.take()
        if not outcomes and limit <= 0:
            if stopping:
                return False
            self.gate.leave_idle()  # every thread is busy: the waiters may rest
            self._sleep(IDLE_POLL_SECONDS)
            return True
        try:
            if self._reconcile or time.monotonic() >= self._next_reconcile:
                self._reconcile_inflight()
            fetched = self._timed_exchange(outcomes, limit)
        except redis.RedisError as error:
            return self._exchange_failed(outcomes, error, stopping)
        self._backoff.succeeded()
        if fetched:
            self.gate.leave_idle()
            if self.admit is not None:
                fetched = self.admit(fetched)
            self.manager.dispatch(fetched)
        elif limit > 0:
            self.gate.enter_idle()  # the queues are empty: the waiters watch them
            self._sleep(IDLE_POLL_SECONDS)
        return True

    def _timed_exchange(self, outcomes: list[Outcome], limit: int) -> list[Fetched]:
        sent = time.perf_counter()
        fetched = self._exchange(outcomes, limit)
        self.manager.prefetch.observe_round_trip(time.perf_counter() - sent)
        return fetched

    def _exchange_failed(self, outcomes: list[Outcome], error: Exception, stopping: bool) -> bool:
        """Keep the outcomes for the next try; False when stopping (the thread ends)."""
        self.outcomes.put_back(outcomes)
        self.store.skip_tokens()
        self._reconcile = True
        if stopping:
            logger.error("could not write %d outcomes at shutdown: %s", len(outcomes), error)
            return False
        self.wakeup.wait(self._backoff.failed(error))
        return True

    def _slept_to_gather(self, limit: int) -> bool:
        """Sleep while outcomes and free slots gather for one round trip; True if it slept.

        Quiet and stopping processes write their outcomes at once.
        """
        if self._quiet or self._reconcile:
            return False
        delay = self._batch_delay(limit)
        if delay <= 0:
            return False
        self._sleep(delay)
        return True

    def _batch_delay(self, limit: int) -> float:
        """Seconds to let outcomes and free slots gather before the next round trip.

        Zero when the threads are running low on fetched jobs (or some are idle), when
        the oldest unwritten outcome has lingered long enough, or when there is nothing
        to write and no slot to fill (the caller then sleeps as before).
        """
        if limit <= 0 or self.manager.needs_refill():
            return 0.0
        oldest = self.outcomes.oldest()
        if oldest is None:
            return IDLE_POLL_SECONDS
        return oldest + OUTCOME_LINGER_SECONDS - time.monotonic()

    def _exchange(self, outcomes: list[Outcome], limit: int) -> list[Fetched]:
        batch = self.landing.partition(outcomes)
        exchanged = self.store.exchange(batch, limit, self.order.next())
        adopted = self.landing.settle(batch, exchanged.adopted)
        self.manager.written(batch, adopted)
        if batch.deferred:
            # Their jobs were adopted just now (or are gone): write them next turn.
            self.outcomes.put_back(batch.deferred)
        _report_refused(exchanged.refused + batch.refused)
        if not exchanged.lease_held:
            logger.warning("our lease had expired; renewing the heartbeat before fetching")
            self.on_lease_lost()
            return []
        return exchanged.fetched

    def _reconcile_inflight(self) -> None:
        """Requeue in-flight entries we do not know about (a fetch reply we never got)."""
        known = self.manager.known_fields()
        entries = self.store.inflight()
        stray = [
            Fetched(field, keys.inflight_queue(field), raw)
            for field, raw in entries.items()
            if field not in known and keys.marked_field(field) is None
        ]
        # A run marker whose job is neither in the hash nor ours: a run noted after the
        # job was recovered elsewhere, whose unmarking failed (Redis unreachable) and
        # whose outcome was refused. Left alone it would keep our hash, and so our
        # owner entry, forever.
        for name in entries:
            field = keys.marked_field(name)
            if field is not None and field not in entries and field not in known:
                self.store.unmark_started(field)
        if stray:
            moved = self.store.requeue(stray)
            logger.warning(
                "requeued %d jobs in our in-flight hash that this process never received "
                "(a fetch whose reply was lost, or writes Redis lost in a crash)",
                moved,
            )
        stranded = self.landing.stranded(self.store.landing_items())
        for job in stranded:
            self.manager.dispatch_landed(job)
        if stranded:
            logger.warning("running %d landed jobs this process had not heard of", len(stranded))
        self._reconcile = False
        # With landed jobs unaccounted for, look again soon rather than a whole
        # heartbeat timeout later.
        wait = 1.0 if self.landing.has_suspects() else self._reconcile_every
        self._next_reconcile = time.monotonic() + wait


def _report_refused(refused: int) -> None:
    if refused:
        logger.warning(
            "%d job outcomes refused: this process was presumed dead and those jobs were "
            "recovered and handed to another process, which runs them again",
            refused,
        )
