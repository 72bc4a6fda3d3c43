"""One worker process: owns every thread and runs its lifecycle.

Tasks:
1. build the pieces (store, executor, manager, fetcher, waiters, scheduler with the
   periodic ticker, heartbeat, watchdog, the control listener for pauses and cancels,
   and the event loop of async jobs with its block monitor) around one Redis URL
2. check_redis(): wait for Redis, load the scripts, probe the permissions, publish the
   periodic schedules (runtime/periodic.py)
3. start(): heartbeat first (the lease must exist before the first fetch), then the
   processors, the fetcher, the waiters and the scheduler
4. quiet() (SIGTSTP, or TSTP from a UI): stop fetching; the jobs fetched but not
   started go back to the front of their queues at once
5. stop() (SIGTERM/SIGINT, or TERM from a UI): quiet, wait up to `shutdown_timeout`
   for running jobs (async ones too), cancel the async ones still running, push the
   unfinished ones back to the front of their queues,
   write the last acknowledgements, remove our heartbeat
"""

from __future__ import annotations

import gc
import logging
import signal
import ssl
import threading
import time
from types import FrameType

import redis
from redis.exceptions import NoPermissionError

from sidequest import keys, scripts
from sidequest.config import Settings
from sidequest.connection import connect, redact
from sidequest.errors import ConfigError
from sidequest.job_metrics import JobMetrics
from sidequest.middleware import Middleware, MiddlewareChain, ProcessInfo
from sidequest.periodic_jobs.outcomes import PeriodicOutcomes
from sidequest.periodic_jobs.store import PeriodicStore
from sidequest.periodic_jobs.ticker import PeriodicTicker
from sidequest.runtime import periodic
from sidequest.runtime.async_executor import AsyncExecutor
from sidequest.runtime.async_runtime import AsyncRuntime
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.cancelling import Cancellations, RunningJob
from sidequest.runtime.control import ControlListener
from sidequest.runtime.event_loop import BlockMonitor
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.fetcher import Fetcher
from sidequest.runtime.flow_counts import FlowCounts
from sidequest.runtime.heartbeat import Heartbeat, dump_threads, new_identity
from sidequest.runtime.limits import LimitGate
from sidequest.runtime.manager import Manager
from sidequest.runtime.outcome import Batch
from sidequest.runtime.pausing import PausedQueues
from sidequest.runtime.queue_order import QueueOrder
from sidequest.runtime.recovery import Recovery
from sidequest.runtime.scheduler import Scheduler
from sidequest.runtime.store.control import ControlStore
from sidequest.runtime.store.heartbeat import HeartbeatStore
from sidequest.runtime.store.inflight import InflightStore
from sidequest.runtime.store.limits import LimitStore
from sidequest.runtime.store.recovery import RecoveryStore
from sidequest.runtime.store.schedule import ScheduleStore
from sidequest.runtime.waiter import IdleGate, Waiters
from sidequest.runtime.watchdog import Guard, Watchdog

logger = logging.getLogger("sidequest")

# How long a job without a timeout may block the event loop before the process restarts
# (a job with one may block it for its timeout plus `timeout_grace`).
LOOP_STUCK_SECONDS = 60.0

# Blocking waiters use 1 s blocks; replies must come well within the socket timeout.
_SOCKET_TIMEOUT = 10.0


def _tls_refused(error: redis.ConnectionError) -> bool:
    """A failed TLS handshake (an untrusted certificate, TLS against a plain port, or the
    reverse): waiting cannot fix it. redis-py keeps only the SSL error's text."""
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLError) or "[SSL" in str(error)


class Launcher:
    def __init__(self, settings: Settings, middleware: list[Middleware] | None = None):
        self.settings = settings
        self.identity = new_identity()
        self.redis = connect(
            settings.redis_url,
            retries=0,
            socket_timeout=_SOCKET_TIMEOUT,
            max_connections=None,
        )
        # Every worker records per-class metrics for the dashboard's Metrics page, and
        # how periodic jobs ended for `sidequest periodic list`.
        self.periodic_store = PeriodicStore(self.redis)
        self.middleware = MiddlewareChain(
            [JobMetrics(self.redis), PeriodicOutcomes(self.periodic_store), *(middleware or [])]
        )
        #: what check_redis publishes (None: nothing); ConfigError on a name given twice
        self.schedules = periodic.wanted(settings.periodic)
        self.inflight = InflightStore(self.redis, self.identity, settings)
        self.watchdog: Watchdog[TimedRun] = Watchdog(settings.timeout_grace, self._abandon)
        self.limits = LimitGate(
            LimitStore(self.redis, self.identity),
            self.identity,
            settings.heartbeat_interval,
            lambda: self.middleware,
        )
        # Flow control: paused queues, cancelled jobs, and their counts (control.py).
        control_store = ControlStore(self.redis)
        self.flow_counts = FlowCounts(control_store)
        self.middleware = MiddlewareChain([*self.middleware.items, self.flow_counts])
        self.pauses = PausedQueues(on_resume=self._queue_resumed)
        self.cancellations = Cancellations(
            settings.timeout_grace, self.watchdog.withdraw, self._abandon_cancelled
        )
        self.control = ControlListener(
            control_store, self._dedicated_client, self.pauses, self.cancellations
        )
        self.executor = Executor(
            settings,
            self.middleware,
            self.watchdog,
            self.inflight,
            cancellations=self.cancellations,
            counts=self.flow_counts,
            limits=self.limits,
        )
        self.gate = IdleGate()
        self.manager = Manager(settings, self.executor, self._wake_fetcher, self._landing_started)
        self.async_runtime = AsyncRuntime(
            settings.async_concurrency,
            AsyncExecutor(self.executor, settings.timeout_grace),
            self.manager.isolation,
            settings.max_recoveries,
            self._landing_started,
        )
        self.manager.attach_async(self.async_runtime)
        self.loop_monitor = BlockMonitor(
            self.async_runtime.loop,
            self.async_runtime.holder,
            lambda: self.async_runtime.holder_deadline(LOOP_STUCK_SECONDS),
            self._loop_blocked,
            self._loop_stuck,
        )
        #: the worker's exit status: 0, or 70 (EX_SOFTWARE) when its event loop stayed
        #: blocked, so that its supervisor starts a fresh process
        self.exit_status = 0
        self.heartbeat = Heartbeat(
            HeartbeatStore(self.redis, self.identity, settings),
            settings,
            self.manager,
            self.middleware,
            Recovery(RecoveryStore(self.redis, self.identity, settings), settings),
            on_quiet=self.quiet,
            on_stop=self.request_stop,
            is_quiet=lambda: self.quieted,
        )
        self.fetcher = Fetcher(
            self.inflight,
            self.manager,
            QueueOrder(settings.queues),
            self.gate,
            self.heartbeat.beat_soon,
            settings.heartbeat_timeout,
            admit=self.limits.admit_batch,
        )
        queue_names = [queue.name for queue in settings.queues]
        self.waiters = Waiters(
            self._dedicated_client,
            queue_names,
            self.gate,
            self.inflight.landing_key,
            self,
            self.pauses,
        )
        self.scheduler = Scheduler(
            ScheduleStore(self.redis, settings),
            self._dedicated_client,
            settings.scheduler_max_sleep,
            periodic.PeriodicFiring(PeriodicTicker(self.periodic_store), self.middleware),
            on_pushed=self._scheduler_pushed,
        )
        self.process_info = ProcessInfo(
            self.identity,
            settings.concurrency,
            tuple(queue_names),
            settings.async_concurrency if self.async_runtime.enabled else 0,
        )
        self.quieted = False
        self.stopped = threading.Event()
        self._stop_requested = threading.Event()
        self._lifecycle = threading.Lock()

    def _dedicated_client(self) -> redis.Redis:
        return connect(self.settings.redis_url, retries=0, socket_timeout=_SOCKET_TIMEOUT)

    # -- what the queue waiters report (waiter.Arrivals) --------------------------------

    def lease_good(self) -> bool:
        return self.heartbeat.lease_good()

    def landed(self, job: Fetched) -> None:
        """A waiter landed `job`: run it now, unless we are quiet (then it goes back)."""
        # Until it runs or goes back, the job is in our landing list and in no account
        # of the manager's; the pause check below waits on Redis, perhaps for a socket
        # timeout, while the fetcher's looks would take it for stranded and run it too.
        landing = self.manager.landing
        landing.arriving(job)
        try:
            self._hand_over(job)
        finally:
            landing.arrived(job)

    def _hand_over(self, job: Fetched) -> None:
        if self.quieted:
            try:
                self.inflight.requeue([job])
            except redis.RedisError as error:
                logger.warning("could not put back a job landed while quiet (%s)", error)
            return
        if self._paused_since_landing(job):
            return
        # A new idle period starts once the fetcher has looked again (adopting this job,
        # fetching what else arrived): only then may this queue's waiter land another.
        # The processor that takes the job wakes the fetcher, after the job started.
        self.gate.leave_idle()
        self.manager.dispatch_landed(job)

    def _paused_since_landing(self, job: Fetched) -> bool:
        """Whether the queue of a landed job is paused: its waiter blocked before the
        pause reached this process. Then the job goes back to the front of its queue, as
        the fetch after a pause takes nothing from it (pausing.py)."""
        try:
            paused = self.control.store.is_paused(job.queue)
        except redis.RedisError:
            paused = self.pauses.is_paused(job.queue)
        if not paused:
            return False
        self.pauses.note_paused(job.queue)
        try:
            self.inflight.requeue([job])
        except redis.RedisError as error:
            # Left in our landing list: the fetcher's reconcile finds it stranded and
            # runs it, which at worst starts a job just after its queue was paused.
            logger.warning("could not put back a job landed in a paused queue (%s)", error)
        return True

    def _scheduler_pushed(self) -> None:
        # Due jobs and periodic ticks were just pushed, often several at once: one fetch
        # takes them all, where the waiters would land them one by one.
        self.fetcher.wake()

    def _queue_resumed(self) -> None:
        # Jobs may wait in the resumed queue: fetch now instead of at the next idle poll.
        self.fetcher.wake()

    def _abandon_cancelled(self, run: RunningJob) -> None:
        self.manager.abandon_cancelled(run)

    def _wake_fetcher(self) -> None:
        self.fetcher.job_finished()

    def _landing_started(self) -> None:
        self.fetcher.job_landed()

    def _abandon(self, guard: Guard[TimedRun]) -> None:
        self.cancellations.forget_thread(guard.thread_id)
        self.manager.abandon(guard)

    def _loop_blocked(self, holder: str) -> None:
        self.async_runtime.loop_blocked()
        self.middleware.loop_blocked(holder)

    def _loop_stuck(self, holder: str) -> None:
        """The event loop stays blocked: stop as SIGTERM would, then exit non-zero."""
        self.exit_status = 70
        self.request_stop()

    # -- lifecycle ----------------------------------------------------------------------

    def check_redis(self, wait: float = 30.0) -> None:
        """Wait for Redis to answer and publish the periodic schedules; stop at once on
        errors that waiting cannot fix (a Redis user who may not write the periodic keys
        among them)."""
        deadline = time.monotonic() + wait
        backoff = Backoff(f"waiting for Redis at {redact(self.settings.redis_url)}")
        while True:
            try:
                self.redis.ping()
                scripts.load_all(self.redis)
                self._probe_permissions()
                if self.schedules is not None:
                    periodic.publish(self.periodic_store, self.schedules, time.time())
                # Every cancel mark is known before the first job starts.
                self.control.reread()
                backoff.succeeded()
                return
            except redis.AuthenticationError as error:
                raise ConfigError(
                    f"Redis at {redact(self.settings.redis_url)} refused our credentials: {error}. "
                    "Check the user and password in REDIS_URL."
                ) from None
            except NoPermissionError as error:
                raise ConfigError(
                    f"Redis at {redact(self.settings.redis_url)} does not let this user do "
                    f"what a worker does: {error}. A worker needs every key (process entries "
                    f"are named after hosts), the channels {keys.SCHEDULE_WAKEUP_CHANNEL} and "
                    f"{keys.CONTROL_CHANNEL}, and the usual commands, e.g. ACL SETUSER "
                    "<user> on ><password> ~* &sidequest:* +@all -@dangerous"
                ) from None
            except redis.ResponseError as error:
                if "NOAUTH" in str(error) or "WRONGPASS" in str(error) or "NOPERM" in str(error):
                    raise ConfigError(
                        f"Redis at {redact(self.settings.redis_url)} refused access: {error}. "
                        "Check the user, password and ACL permissions in REDIS_URL."
                    ) from None
                raise
            except redis.ConnectionError as error:
                if _tls_refused(error):
                    raise ConfigError(
                        f"TLS with Redis at {redact(self.settings.redis_url)} failed: {error}. "
                        "Check rediss:// and the certificate options in REDIS_URL "
                        "(ssl_ca_certs=<file>, ssl_cert_reqs=...)."
                    ) from None
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"Redis at {redact(self.settings.redis_url)} is unreachable: {error}"
                    ) from None
                time.sleep(backoff.failed(error))

    def _probe_permissions(self) -> None:
        """Use each kind of access a worker needs once, so that a Redis user missing an
        ACL grant stops the worker here, with exit status 78 and a clear message, instead
        of failing in a thread later (a scheduler retrying a refused SUBSCRIBE forever).
        Neither call changes anything: schedulers that get an empty wakeup look again,
        and an exchange with nothing to acknowledge and nothing to fetch writes nothing.
        """
        self.redis.publish(keys.SCHEDULE_WAKEUP_CHANNEL, "")
        self.redis.publish(keys.CONTROL_CHANNEL, "")  # listeners ignore an empty message
        self.inflight.exchange(Batch(), 0, [queue.name for queue in self.settings.queues])

    def start(self) -> None:
        settings = self.settings
        logger.info(
            "sidequest worker %s starting: concurrency %d, queues %s",
            self.identity,
            settings.concurrency,
            ", ".join(
                f"{q.name} (weight {q.weight})" if q.weight else q.name for q in settings.queues
            ),
        )
        if self.async_runtime.enabled:
            logger.info(
                "jobs with an async perform run on an event loop: async_concurrency %d",
                settings.async_concurrency,
            )
        # Everything imported and built so far lives as long as the process: keep it out
        # of the garbage collector's full passes, which would otherwise walk it all and
        # pause the job threads for milliseconds now and then.
        gc.freeze()
        self.watchdog.start()
        self.heartbeat.start()
        self.manager.start()
        self.control.start()
        if self.manager.async_side is not None:
            self.async_runtime.start(self.manager)
            self.loop_monitor.start()
        self.fetcher.start()
        self.waiters.start()
        self.scheduler.start()
        self.limits.start()
        self.middleware.process_started(self.process_info)

    def quiet(self) -> None:
        """Stop fetching and hand back the jobs that have not started."""
        with self._lifecycle:
            if self.quieted:
                return
            self.quieted = True
        logger.info("quieting: no new jobs will be fetched")
        self.fetcher.quiet()
        self._requeue_unstarted()
        self.heartbeat.beat_soon()

    def request_stop(self) -> None:
        """Ask the main thread to stop (safe from signal handlers and other threads)."""
        self._stop_requested.set()

    def wait(self) -> None:
        """Block until a stop is requested, then stop."""
        while not self._stop_requested.wait(0.5):
            pass
        self.stop()

    def stop(self) -> None:
        self.quiet()
        # No waiter blocks again; one blocked now may still land a job, which goes back
        # to its queue because we are quiet (see landed()).
        self.waiters.stop()
        deadline = time.monotonic() + self.settings.shutdown_timeout
        logger.info(
            "stopping: waiting up to %.0fs for %d running jobs",
            self.settings.shutdown_timeout,
            self.manager.busy,
        )
        while not self.manager.idle and time.monotonic() < deadline:
            time.sleep(0.01)
        self._requeue_unstarted()
        unfinished = [run.job for run in self.async_runtime.cancel_for_shutdown()]
        unfinished += [running.job for running in self.manager.running()]
        self.fetcher.stop()
        if unfinished:
            try:
                moved = self.inflight.requeue(unfinished)
                logger.warning("pushed %d unfinished jobs back to their queues", moved)
            except redis.RedisError as error:
                logger.error(
                    "could not push %d unfinished jobs back (%s); they will be recovered "
                    "once this process's lease expires",
                    len(unfinished),
                    error,
                )
        # Unfinished jobs are back in their queues: their slots go to whoever runs next.
        self.limits.stop()
        self.middleware.process_stopping(self.process_info)
        self.scheduler.stop()
        self.control.stop()
        self.heartbeat.stop()
        self.watchdog.stop()
        self.loop_monitor.stop()
        self.async_runtime.stop()
        self.manager.stop_processors()
        # A job landed by a waiter after our last look must be back in its queue before
        # we drop our owner entry, or nobody would ever recover it.
        self.waiters.join()
        try:
            self.heartbeat.clear()
        except redis.RedisError as error:
            logger.warning("could not remove our heartbeat: %s", error)
        self.stopped.set()
        logger.info("stopped")

    def _requeue_unstarted(self) -> None:
        unstarted = self.manager.take_unstarted()
        if not unstarted:
            return
        self.limits.withdraw(unstarted)
        try:
            self.inflight.requeue(unstarted)
        except redis.RedisError as error:
            logger.error("could not push %d unstarted jobs back: %s", len(unstarted), error)

    # -- signals ------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """TERM/INT stop, TSTP quiets, TTIN dumps thread stacks (as Sidekiq)."""

        def on_stop(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        def on_quiet(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.quiet, name="sidequest-quiet", daemon=True).start()

        def on_dump(signum: int, frame: FrameType | None) -> None:
            dump_threads()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGTSTP, on_quiet)
        signal.signal(signal.SIGTTIN, on_dump)
