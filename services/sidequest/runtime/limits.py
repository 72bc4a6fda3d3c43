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
3. one thread, the limits thread, talks to Redis for both: it sends every release and
   admission waiting at that moment in one round trip (group commit). An idle process
   sends each at once; a busy one sends a few per round trip, so that a limit costs the
   processor threads little more than a hand-over
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
        self._prune_cursors = (0, 0)
        self._admissions: list[_Request] = []
        self._releases: list[tuple[str, Bound]] = []
        self._work = threading.Event()
        self._local = threading.local()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidequest-limits", daemon=True)

    # -- processor threads --------------------------------------------------------------

    def admit(self, fetched: Fetched, job: JobDict) -> Left | None:
        """None when the job may start now (slots and starts taken); Left when it left.

        Raises LimitFailed when a key function fails for the job's arguments.
        """
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
        return self._acquire(fetched, job, job_class.job_name, bounds)

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
        self._work.set()
        # The job stays held where it is meanwhile; at a stop it goes back unfinished.
        done.wait()
        acquired = request.result
        assert acquired is not None
        verdict = acquired.verdict
        events = self.events()
        if verdict is Verdict.ADMITTED:
            first_refused = job.pop(LIMITED_AT, None)
            job.pop(THROTTLED_AT, None)
            slots = [bound for bound in bounds if bound.kind == "concurrency"]
            if slots:
                with self._lock:
                    self._held[fetched] = _Holding(holder, slots)
            if events is not None and isinstance(first_refused, int | float):
                events.job_admitted_after_wait(name, max(0.0, acquired.at - first_refused))
            return None
        if verdict is Verdict.PARKED:
            logger.debug("parked %s %s: no free slot", name, job.get("jid"))
            if events is not None:
                events.job_limited(name, "parked")
        elif verdict is Verdict.THROTTLED:
            logger.debug("throttled %s %s until %.3f", name, job.get("jid"), acquired.at)
            if events is not None:
                events.job_limited(name, "throttled")
        return Left(fetched, verdict)

    def release(self, fetched: Fetched) -> None:
        """The job finished (or was abandoned): give back its slots, waking parked jobs.
        Handed to the limits thread, which sends it at once."""
        with self._lock:
            holding = self._held.pop(fetched, None)
            if holding is None:
                return
            self._releases.extend((holding.holder, bound) for bound in holding.bounds)
        self._work.set()

    # -- the limits thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        backoff = Backoff("limits")
        next_keep = time.monotonic() + self.interval
        while not self._stopped.is_set():
            self._work.wait(max(0.0, next_keep - time.monotonic()))
            self._work.clear()
            try:
                self._send()
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + self.interval
                    self.keep()
            except redis.RedisError as error:
                self._stopped.wait(backoff.failed(error))
                self._work.set()  # what could not be sent is still waiting
                continue
            backoff.succeeded()

    def _send(self) -> None:
        """One round trip for every release and admission waiting now."""
        with self._lock:
            releases, self._releases = self._releases, []
            requests, self._admissions = self._admissions, []
        if not releases and not requests:
            return
        try:
            results = self.store.exchange(releases, [request.admission for request in requests])
        except redis.RedisError:
            with self._lock:
                self._releases[:0] = releases
                self._admissions[:0] = requests
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


def _bound(limit: Limit, job_name: str, args: list[object], kwargs: dict[str, object]) -> Bound:
    key = limit.key_for(job_name, list(args), dict(kwargs))
    if isinstance(limit, ConcurrencyLimit):
        return Bound("concurrency", key, limit.to, limit.duration)
    return Bound("rate", key, limit.limit, limit.per)
