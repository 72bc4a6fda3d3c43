"""Concurrency and rate limits at the moment a job is about to start, in one process.

Tasks:
1. admit: for a job whose class declares limits (sidequest.limits), build each limit's
   key from the job's arguments and ask Redis whether it may start (limit_acquire.lua).
   If not, the same call moved it out of this process: parked on the key's list (a
   concurrency limit) or into the schedule set at its next allowed start (a rate limit;
   marked `throttled_at`, so that it returns to the front of its queue). Its retry
   count is untouched and it never enters the retry set.
2. release: when the job finished, give back its slots (limit_release.lua), which
   moves a parked job of the key to the front of its queue in the same call
3. the round trips: the fetcher admits the concurrency-limited jobs of each batch it
   takes in one call before dispatching them (they hold their slots in the buffer,
   which is safe; a rate-limited job is admitted when it starts, so that a start is
   counted when it happens). A processor thread sends its own admission, or a release
   that parked jobs wait for, itself when no round trip is on its way (no hand-over
   between threads); otherwise it leaves it to the limits thread, which sends all that
   gathered meanwhile in one round trip. Other releases wait up to 5 ms for company
   or ride along with the fetcher's next admissions
4. keep: every heartbeat interval, refresh the slots of running jobs (a live process
   keeps them however long its jobs run), sweep the keys with parked jobs for slots
   nobody released (a killed process's, once its lease expired; lapsed ones), and walk
   a batch of the index of limits, dropping keys nobody uses any more
5. at a clean stop, give back every slot still held (jobs pushed back unfinished)

Classes without limits cost a registry lookup per job and nothing in Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from sidequest import payload
from sidequest.errors import MalformedPayloadError
from sidequest.job import registry, signature
from sidequest.job.base import Job
from sidequest.limits import ConcurrencyLimit, Limit, LimitKeyError, limits_of
from sidequest.payload import JobDict
from sidequest.runtime import resolution
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.store.limits import Acquired, Admission, Bound, LimitStore, Verdict

logger = logging.getLogger("sidequest")

#: payload fields limit_acquire.lua writes: when a job was first refused (its wait is
#: measured from there) and, on a throttled job in the schedule set, when it was throttled
LIMITED_AT = "limited_at"
THROTTLED_AT = "throttled_at"


class LimitEvents(Protocol):
    """What the limiter reports (the metrics middleware counts it)."""

    def job_limited(self, job_class: str, verdict: str) -> None:
        """A job was refused: `verdict` is "parked" or "throttled"."""

    def job_admitted_after_wait(self, job_class: str, waited: float) -> None:
        """A job refused before was admitted `waited` seconds after its first refusal."""


@dataclass(slots=True)
class Left:
    """The job left this process at admission: parked, throttled, or recovered elsewhere.
    The processor drops it without an outcome; Redis already holds it elsewhere."""

    job: Fetched
    verdict: Verdict


class LimitFailed(Exception):
    """A limit's key could not be built; carries the class for the retry policy."""

    def __init__(self, job_class: type, error: LimitKeyError):
        super().__init__(str(error))
        self.job_class = job_class


@dataclass(slots=True)
class _Holding:
    holder: str
    bounds: list[Bound]
    #: jobs were parked on its keys at admission: give the slots back at once
    eager: bool = True


#: how long a release waits for company when nothing was parked on its keys at the job's
#: admission (as an outcome does: runtime/fetcher.py); one parked since is woken that
#: much later at worst
RELEASE_LINGER_SECONDS = 0.005


class _Request:
    """An admission waiting for the limits thread; answered through `done`."""

    __slots__ = ("admission", "done", "result")

    def __init__(self, admission: Admission, done: threading.Event):
        self.admission = admission
        self.done = done
        self.result: Acquired | None = None


class LimitGate:
    def __init__(
        self,
        store: LimitStore,
        identity: str,
        interval: float,
        events: Callable[[], LimitEvents | None] = lambda: None,
    ):
        self.store = store
        self.identity = identity
        self.interval = interval
        self.events = events
        self._lock = threading.Lock()
        self._serial = 0
        self._held: dict[Fetched, _Holding] = {}
        self._per_class: dict[type[Job], list[Bound]] = {}
        # Jobs the fetcher admitted with their batch: class name and admission time.
        self._admitted: dict[Fetched, tuple[str, float]] = {}
        self._limited_classes: bool | None = None
        self._prune_cursors = (0, 0)
        self._admissions: list[_Request] = []
        self._releases: list[tuple[str, Bound]] = []
        # Whether a release waiting in _releases must go at once, and since when the
        # oldest of the others waits (monotonic).
        self._urgent = False
        self._lingering_since: float | None = None
        self._work = threading.Event()
        # Held by whichever thread sends (the limits thread, or a processor thread that
        # found it idle): one round trip of the limits at a time, in order.
        self._sending = threading.Lock()
        self._local = threading.local()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidequest-limits", daemon=True)

    # -- processor threads --------------------------------------------------------------

    def admit(self, fetched: Fetched, job: JobDict) -> Left | None:
        """None when the job may start now (slots and starts taken); Left when it left.

        A job the fetcher admitted with its batch (admit_batch) starts at once.
        Raises LimitFailed when a key function fails for the job's arguments.
        """
        early = self._admitted.pop(fetched, None) if self._admitted else None
        if early is not None:
            self._admitted_now(job, early[0], early[1])
            return None
        plan = self._plan(job)
        if plan is None:
            return None
        name, bounds = plan
        return self._acquire(fetched, job, name, bounds)

    def _plan(self, job: JobDict) -> tuple[str, list[Bound]] | None:
        """The job's class name and limits with their keys; None for a job without
        limits (or one the executor will refuse: unknown class, arguments that do not
        fit). Raises LimitFailed when a key function fails."""
        try:
            job_class = registry.resolve(resolution.job_class_name(job))
        except (KeyError, TypeError, ValueError):
            return None
        if job_class is None:
            return None
        limits = limits_of(job_class)
        if not limits:
            return None
        bounds = self._per_class.get(job_class)
        if bounds is None:
            bounds = self._bounds(job_class, limits, job)
            if bounds is None:
                return None
        return job_class.job_name, bounds

    # -- the fetcher thread -------------------------------------------------------------

    def admit_batch(self, jobs: list[Fetched]) -> list[Fetched]:
        """Admit the limited jobs of a batch the fetcher just took, in one round trip,
        before they reach the processor threads; returns the jobs to dispatch (the
        refused ones left this process in the same call). A job admitted here holds its
        slots while it waits in the process's buffer (at most a couple of round trips of
        work) and starts without asking again, so that a limit that does not bind costs
        the processor threads no round trip. Only jobs whose limits are all concurrency
        limits are admitted here (holding a slot a little early is safe; counting a
        start early is not); the others, and unlimited jobs, pass untouched. With no
        limited class registered, nothing is even decoded."""
        if self._limited_classes is None:
            # Classes are registered at import, before the worker starts fetching.
            self._limited_classes = _any_limits()
        if not self._limited_classes:
            return jobs
        planned = self._plan_batch(jobs)
        if not planned:
            return jobs
        releases = self._take_releases()
        try:
            results = self.store.exchange(releases, [entry[3] for entry in planned])
        except redis.RedisError as error:
            logger.warning("limits: could not admit a fetched batch (%s); admitting each", error)
            self._put_back_releases(releases)
            return jobs
        left: set[Fetched] = set()
        events = self.events()
        for (fetched, name, bounds, admission), acquired in zip(planned, results, strict=True):
            if acquired.verdict is Verdict.ADMITTED:
                with self._lock:
                    slots = [bound for bound in bounds if bound.kind == "concurrency"]
                    if slots:
                        self._held[fetched] = _Holding(admission.holder, slots, acquired.parked > 0)
                    self._admitted[fetched] = (name, acquired.at)
            else:
                left.add(fetched)
                self._refused(name, acquired, events)
        return [fetched for fetched in jobs if fetched not in left]

    def _plan_batch(self, jobs: list[Fetched]) -> list[tuple[Fetched, str, list[Bound], Admission]]:
        """The limited jobs of a batch, each with its class name, limits and admission."""
        planned: list[tuple[Fetched, str, list[Bound], Admission]] = []
        for fetched in jobs:
            try:
                plan = self._plan(payload.decode(fetched.raw))
            except (MalformedPayloadError, LimitFailed):
                continue  # the executor reports it
            # A rate limit counts starts: admitted here, a job would count as started
            # while it waits in the buffer, and starts would bunch up behind the
            # window's edge. Such jobs are admitted when they start.
            if plan is None or any(bound.kind == "rate" for bound in plan[1]):
                continue
            with self._lock:
                self._serial += 1
                holder = f"{self.identity}|{self._serial}"
            planned.append(
                (fetched, plan[0], plan[1], Admission(fetched.field, fetched.raw, holder, plan[1]))
            )
        return planned

    def withdraw(self, jobs: list[Fetched]) -> None:
        """Jobs admitted with their batch that will not start here (quiet, stop: they go
        back to their queue): give their slots back."""
        with self._lock:
            for fetched in jobs:
                self._admitted.pop(fetched, None)
                holding = self._held.pop(fetched, None)
                if holding is not None:
                    self._releases.extend((holding.holder, bound) for bound in holding.bounds)
                    self._urgent = True
        self._work.set()

    def _bounds(
        self, job_class: type[Job], limits: tuple[Limit, ...], job: JobDict
    ) -> list[Bound] | None:
        """The limits applied to this job: their keys from its arguments (None when the
        arguments do not fit perform, which the executor reports). The bounds of a class
        whose limits have no key function are the same for every job: kept."""
        positional: list[object] = []
        named: dict[str, object] = {}
        keyed = any(limit.key is not None for limit in limits)
        if keyed:
            try:
                args = resolution.perform_args(job)
                positional, named = signature.call(
                    job_class.perform_shape(), job_class.job_name, job, args
                )
            except Exception:  # the executor reports arguments that do not fit itself
                return None
        try:
            bounds = [_bound(limit, job_class.job_name, positional, named) for limit in limits]
        except LimitKeyError as error:
            raise LimitFailed(job_class, error) from error
        if not keyed:
            self._per_class[job_class] = bounds
        return bounds

    def _acquire(
        self, fetched: Fetched, job: JobDict, name: str, bounds: list[Bound]
    ) -> Left | None:
        in_hash = fetched.state in (Holding.FETCHED, Holding.ADOPTED) and fetched.field
        done: threading.Event | None = getattr(self._local, "done", None)
        if done is None:
            done = self._local.done = threading.Event()
        done.clear()
        with self._lock:
            self._serial += 1
            holder = f"{self.identity}|{self._serial}"
            request = _Request(
                Admission(fetched.field if in_hash else "", fetched.raw, holder, bounds), done
            )
            self._admissions.append(request)
        self._send_or_hand_over()
        # The job stays held where it is meanwhile; at a stop it goes back unfinished.
        done.wait()
        acquired = request.result
        assert acquired is not None
        verdict = acquired.verdict
        if verdict is Verdict.ADMITTED:
            slots = [bound for bound in bounds if bound.kind == "concurrency"]
            if slots:
                with self._lock:
                    self._held[fetched] = _Holding(holder, slots, acquired.parked > 0)
            self._admitted_now(job, name, acquired.at)
            return None
        self._refused(name, acquired, self.events(), job.get("jid"))
        return Left(fetched, verdict)

    def _admitted_now(self, job: JobDict, name: str, at: float) -> None:
        """The job starts: drop the limiter's fields from the payload it is run (and
        retried) with, and report how long it waited, if it did."""
        first_refused = job.pop(LIMITED_AT, None)
        job.pop(THROTTLED_AT, None)
        if isinstance(first_refused, int | float):
            events = self.events()
            if events is not None:
                events.job_admitted_after_wait(name, max(0.0, at - first_refused))

    def _refused(
        self, name: str, acquired: Acquired, events: LimitEvents | None, jid: object = None
    ) -> None:
        if acquired.verdict is Verdict.PARKED:
            logger.debug("parked %s %s: no free slot", name, jid)
            if events is not None:
                events.job_limited(name, "parked")
        elif acquired.verdict is Verdict.THROTTLED:
            logger.debug("throttled %s %s until %.3f", name, jid, acquired.at)
            if events is not None:
                events.job_limited(name, "throttled")

    def release(self, fetched: Fetched) -> None:
        """The job finished (or was abandoned): give back its slots, waking parked jobs.

        Handed to the limits thread: at once when jobs were parked on its keys when it
        was admitted; otherwise it may wait RELEASE_LINGER_SECONDS for others (or ride
        along with the fetcher's next admissions), so that a limit that does not bind
        costs a fraction of a round trip per job."""
        with self._lock:
            holding = self._held.pop(fetched, None)
            if holding is None:
                return
            self._releases.extend((holding.holder, bound) for bound in holding.bounds)
            if holding.eager:
                self._urgent = True
                wake = False
            else:
                wake = self._lingering_since is None and not self._urgent
                if self._lingering_since is None:
                    self._lingering_since = time.monotonic()
        if holding.eager:
            self._send_or_hand_over()
        elif wake:
            self._work.set()

    def _send_or_hand_over(self) -> None:
        """Send what waits now from this thread when no round trip is on its way (no
        hand-over between threads: the latency of an idle worker), else leave it to the
        limits thread, which sends it with what else gathers meanwhile."""
        if not self._sending.acquire(blocking=False):
            self._work.set()
            return
        try:
            self._send_locked()
        except redis.RedisError:
            self._work.set()  # put back: the limits thread retries with its backoff
        finally:
            self._sending.release()

    def _take_releases(self) -> list[tuple[str, Bound]]:
        with self._lock:
            releases, self._releases = self._releases, []
            self._urgent = False
            self._lingering_since = None
        return releases

    def _put_back_releases(self, releases: list[tuple[str, Bound]]) -> None:
        with self._lock:
            self._releases[:0] = releases
            self._urgent = True
        self._work.set()

    # -- the limits thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        backoff = Backoff("limits")
        next_keep = time.monotonic() + self.interval
        while not self._stopped.is_set():
            wait = next_keep - time.monotonic()
            lingering = self._lingering_since
            if lingering is not None:
                wait = min(wait, lingering + RELEASE_LINGER_SECONDS - time.monotonic())
            self._work.wait(max(0.0, wait))
            self._work.clear()
            try:
                if self._due():
                    self._send()
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + self.interval
                    self.keep()
            except redis.RedisError as error:
                self._stopped.wait(backoff.failed(error))
                self._work.set()  # what could not be sent is still waiting
                continue
            backoff.succeeded()

    def _due(self) -> bool:
        """Whether to send now: an admission or an urgent release waits, or the oldest
        lingering release has waited long enough."""
        with self._lock:
            if self._admissions or self._urgent:
                return True
            since = self._lingering_since
        return since is not None and time.monotonic() >= since + RELEASE_LINGER_SECONDS

    def _send(self) -> None:
        """One round trip for every release and admission waiting now."""
        with self._sending:
            self._send_locked()

    def _send_locked(self) -> None:
        releases = self._take_releases()
        with self._lock:
            requests, self._admissions = self._admissions, []
        if not releases and not requests:
            return
        try:
            results = self.store.exchange(releases, [request.admission for request in requests])
        except redis.RedisError:
            with self._lock:
                self._admissions[:0] = requests
            self._put_back_releases(releases)
            raise
        for request, result in zip(requests, results, strict=True):
            request.result = result
            request.done.set()

    def keep(self) -> None:
        """Refresh our slots and wake parked jobs that no release woke."""
        with self._lock:
            holdings = [
                (holding.holder, bound)
                for holding in self._held.values()
                for bound in holding.bounds
            ]
        self.store.refresh(holdings)
        woken = self.store.sweep()
        if woken:
            logger.info("woke %d parked jobs whose slots no release gave back", woken)
        # A batch of the index of limits per keep: its unused keys are dropped.
        self._prune_cursors = self.store.prune(self._prune_cursors)

    def stop(self) -> None:
        """At a clean exit, after unfinished jobs went back: give back every slot."""
        self._stopped.set()
        self._work.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        with self._lock:
            releases = self._releases + [
                (holding.holder, bound)
                for holding in self._held.values()
                for bound in holding.bounds
            ]
            self._releases = []
            self._held.clear()
        if releases:
            try:
                self.store.exchange(releases, [])
            except redis.RedisError as error:
                logger.warning(
                    "could not give back %d limit slots at exit: %s", len(releases), error
                )


def _any_limits() -> bool:
    """Whether any registered class declares limits (checked per fetched batch: cheap)."""
    return any(limits_of(job_class) for job_class in registry.classes())


def _bound(limit: Limit, job_name: str, args: list[object], kwargs: dict[str, object]) -> Bound:
    key = limit.key_for(job_name, list(args), dict(kwargs))
    if isinstance(limit, ConcurrencyLimit):
        return Bound("concurrency", key, limit.to, limit.duration)
    return Bound("rate", key, limit.limit, limit.per)
