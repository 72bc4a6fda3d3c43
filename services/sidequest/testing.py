"""Test adapters for applications: collect enqueued jobs, or perform them at once.

    from sidequest import testing

    def test_signup_enqueues_welcome_mail():
        with testing.fake() as jobs:
            signup("ann@example.com")
            jobs.assert_enqueued(SendWelcomeEmailJob, args=[1])
            jobs.assert_enqueued(ReportJob, args=[7], kwargs={"format": "pdf"})
            jobs.drain()            # performs them (and what they enqueue), in order

    def test_whole_flow():
        with testing.inline():      # perform_later performs at once
            signup("ann@example.com")

Both adapters round-trip payloads through JSON, so a job that passes here does not
fail later on serialization. Jobs with an `async def perform` are run to completion
by `drain()` (with `asyncio.run`); inside an async test use `await jobs.drain_async()`,
which runs them on the test's loop, and `perform_later_async` under `inline()`
returns once the job ran.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sidequest import adapter, keywords, payload
from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec, enqueuing_class
from sidequest.errors import UnknownJobError
from sidequest.job import registry
from sidequest.job.base import Job
from sidequest.payload import JobDict


@dataclass
class EnqueuedJob:
    payload: JobDict
    at: float | None
    #: the class that enqueued it (None when pushed by name, e.g. from a raw payload)
    job_type: type[Job] | None = None

    @property
    def job_class(self) -> str:
        return str(self.payload["class"])

    @property
    def args(self) -> list[Any]:
        """The positional arguments (the payload's `args` holds the keywords too)."""
        return keywords.split(self.payload["args"])[0]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments; {} for a job enqueued without any."""
        return keywords.split(self.payload["args"])[1]

    @property
    def queue(self) -> str:
        return str(self.payload["queue"])

    def summary(self) -> tuple[Any, ...]:
        """(class, args, queue), with the keyword arguments before the queue when any."""
        positional, named = keywords.split(self.payload["args"])
        if named:
            return (self.job_class, positional, named, self.queue)
        return (self.job_class, positional, self.queue)

    @property
    def jid(self) -> str:
        return str(self.payload["jid"])


class FakeAdapter:
    """Collects pushes in memory; `drain()` performs them."""

    def __init__(self) -> None:
        self.jobs: list[EnqueuedJob] = []
        self._locks: dict[str, tuple[str, float]] = {}
        # debounce key -> (first enqueue of the burst, the pending job)
        self._debounced: dict[str, tuple[float, EnqueuedJob]] = {}

    def push(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        if debounce is not None:
            return self._push_debounced(job, debounce)
        if unique is not None:
            now = time.monotonic()
            holder = self._locks.get(unique.digest)
            if holder is not None and holder[1] > now:
                return PushResult(enqueued=False, holder=holder[0])
            self._locks[unique.digest] = (str(job["jid"]), now + unique.ttl)
        self.jobs.append(EnqueuedJob(_round_trip(job), at, enqueuing_class()))
        return PushResult(enqueued=True)

    def _push_debounced(self, job: JobDict, debounce: DebounceSpec) -> PushResult:
        """As debounce.lua: replace the key's job if it was not drained yet."""
        now = time.time()
        first, replaced = now, None
        pending = self._debounced.get(debounce.key)
        if pending is not None and pending[1] in self.jobs:
            self.jobs.remove(pending[1])
            first, replaced = pending[0], pending[1].jid
        at = min(now + debounce.window, first + debounce.cap)
        enqueued = EnqueuedJob(_round_trip(job), at, enqueuing_class())
        self.jobs.append(enqueued)
        self._debounced[debounce.key] = (first, enqueued)
        return PushResult(enqueued=True, scheduled_at=at, replaced=replaced)

    def push_bulk(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        job_type = enqueuing_class()
        self.jobs.extend(EnqueuedJob(_round_trip(job), at, job_type) for job in jobs)

    def enqueued(
        self, job_class: type[Job] | str | None = None, *, queue: str | None = None
    ) -> list[EnqueuedJob]:
        name = job_class.job_name if isinstance(job_class, type) else job_class
        return [
            job
            for job in self.jobs
            if (name is None or job.job_class == name) and (queue is None or job.queue == queue)
        ]

    def assert_enqueued(
        self,
        job_class: type[Job] | str,
        *,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        queue: str | None = None,
        count: int | None = None,
    ) -> list[EnqueuedJob]:
        """The jobs of `job_class` with these positional and keyword arguments and queue.

        Each of `args`, `kwargs` and `queue` is compared only when given. Raises
        AssertionError when none match, or not `count` of them.
        """
        matches = [
            job
            for job in self.enqueued(job_class, queue=queue)
            if (args is None or job.args == args) and (kwargs is None or job.kwargs == kwargs)
        ]
        if (count is None and not matches) or (count is not None and len(matches) != count):
            wanted = "some" if count is None else str(count)
            named = "" if kwargs is None else f" kwargs={kwargs}"
            shown = [job.summary() for job in self.jobs]
            raise AssertionError(
                f"expected {wanted} {job_class} jobs with args={args}{named} queue={queue}; "
                f"enqueued: {shown}"
            )
        return matches

    def assert_nothing_enqueued(self) -> None:
        if self.jobs:
            raise AssertionError(f"expected no jobs, got {[job.summary() for job in self.jobs]}")

    def clear(self) -> None:
        self.jobs.clear()
        self._locks.clear()

    def drain(self, *, max_jobs: int = 10_000) -> int:
        """Perform every enqueued job, including ones they enqueue, scheduled ones too.

        Exceptions propagate (after retry_on/discard_on had their say, as perform_now).
        Returns how many jobs ran.
        """
        performed = 0
        while self.jobs:
            job = self._next_to_drain(performed, max_jobs)
            perform_payload(job.payload, job.job_type)
            performed += 1
        self._locks.clear()
        return performed

    def _next_to_drain(self, performed: int, max_jobs: int) -> EnqueuedJob:
        """The next job `drain`/`drain_async` performs, after checking the max_jobs
        guard: a job that keeps enqueuing more would otherwise drain forever."""
        if performed >= max_jobs:
            raise AssertionError(f"drain stopped after {max_jobs} jobs; do jobs enqueue forever?")
        return self.jobs.pop(0)

    async def drain_async(self, *, max_jobs: int = 10_000) -> int:
        """`drain` for async tests: jobs with an async perform run to completion on the
        test's event loop (where `drain` would only start them as tasks)."""
        performed = 0
        while self.jobs:
            job = self._next_to_drain(performed, max_jobs)
            result = perform_payload(job.payload, job.job_type)
            if inspect.isawaitable(result):
                await result
            performed += 1
        self._locks.clear()
        return performed


class InlineAdapter:
    """Performs every pushed job immediately, in the caller's thread."""

    def push(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        # Performed at once: nothing waits, so nothing is debounced either.
        perform_payload(_round_trip(job), enqueuing_class())
        return PushResult(enqueued=True)

    def push_bulk(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        job_type = enqueuing_class()
        for job in jobs:
            perform_payload(_round_trip(job), job_type)

    async def push_async(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        """From `perform_later_async`: an async job runs to completion before it returns
        (nothing waits, so nothing is debounced either)."""
        result = perform_payload(_round_trip(job), enqueuing_class())
        if inspect.isawaitable(result):
            await result
        return PushResult(enqueued=True)

    async def push_bulk_async(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        job_type = enqueuing_class()
        for job in jobs:
            result = perform_payload(_round_trip(job), job_type)
            if inspect.isawaitable(result):
                await result


def perform_payload(job: JobDict, job_type: type[Job] | None = None) -> Any:
    """Perform a payload the way perform_now does: callbacks, retry_on and discard_on.

    The instance keeps the payload's jid and its retry counts, so retry_on attempts run
    out under drain() exactly as they would in a worker. `job_type`, the class that
    enqueued it, wins over the registry's name lookup.
    """
    job_class = job_type or registry.resolve(str(job["class"]))
    if job_class is None:
        raise UnknownJobError(f"no job class named {job['class']!r} is registered")
    # from_payload splits off the keywords and checks the call, as in a worker.
    return job_class.from_payload(job, list(job["args"])).perform_inline()


def _round_trip(job: JobDict) -> JobDict:
    decoded: JobDict = json.loads(payload.encode(job))
    return decoded


@contextmanager
def fake() -> Iterator[FakeAdapter]:
    """Collect jobs instead of enqueuing them, for the duration of the block."""
    with adapter.using(FakeAdapter()) as installed:
        assert isinstance(installed, FakeAdapter)
        yield installed


@contextmanager
def inline() -> Iterator[InlineAdapter]:
    """Perform jobs as soon as they are enqueued, for the duration of the block."""
    with adapter.using(InlineAdapter()) as installed:
        assert isinstance(installed, InlineAdapter)
        yield installed
