"""Where `perform_later` sends jobs: the enqueue adapter seam.

The job API never talks to Redis itself. It builds a payload and hands it to the
current adapter: the Redis client in production, `sidequest.testing`'s fake or inline
adapters in tests. `sidequest.configure()` installs the Redis one; in a process that
never called it, the first enqueue installs the fallback (REDIS_URL's Redis, set up by
`sidequest/__init__.py`), as a Sidekiq client uses REDIS_URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from sidequest.errors import ConfigError
from sidequest.payload import JobDict


@dataclass(frozen=True)
class UniqueSpec:
    """A unique_for lock to take with the push: the job's digest and the lock's TTL."""

    digest: str
    ttl: float


@dataclass(frozen=True)
class DebounceSpec:
    """A debounced push (`Job.set(debounce=...)`): the key, the window and the cap, seconds."""

    key: str
    window: float
    cap: float


@dataclass(frozen=True)
class PushResult:
    """What happened to one push: enqueued, or refused because `holder` owns the lock.

    A debounced push says when the job is due (`scheduled_at`) and which pending job
    it replaced (`replaced`, a jid), if any.
    """

    enqueued: bool
    holder: str | None = None
    scheduled_at: float | None = None
    replaced: str | None = None


class EnqueueAdapter(Protocol):
    def push(
        self,
        payload: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        """Enqueue now (`at` is None or past) or schedule at epoch seconds `at`.

        `debounce` is passed only for debounced jobs, so adapters written before it
        existed keep working for every other job.
        """
        ...

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        """Enqueue many payloads in as few round trips as possible."""
        ...


_current: EnqueueAdapter | None = None
# An adapter for the current thread or task only, over `_current`: the outbox's
# `sidequest.outbox.enqueue_in(session)` block sends its enqueues to the session, and a
# batch's `with` block collects the jobs its own code enqueues (batches/collector.py)
# while the other processor threads of a worker keep enqueueing to Redis.
_scoped: ContextVar[EnqueueAdapter | None] = ContextVar("sidequest_scoped_adapter", default=None)
# Builds the adapter of `Job.set(outbox=session)`; handed in by sidequest/__init__.py
# like the fallback, so that the job API never imports SQLAlchemy or the outbox.
_outbox_factory: Callable[[Any], EnqueueAdapter] | None = None
# Builds the adapter of a process that never configured one, or returns None. It is
# handed in (by sidequest/__init__.py) rather than imported, so that this module, which
# the job API imports, never imports the Redis client.
_fallback: Callable[[], EnqueueAdapter | None] | None = None
_fallback_lock = threading.Lock()


def set_adapter(adapter: EnqueueAdapter | None) -> None:
    global _current
    _current = adapter


def set_fallback(factory: Callable[[], EnqueueAdapter | None] | None) -> None:
    global _fallback
    _fallback = factory


# Wraps the adapter of every enqueue of the job API, or None (the default: no cost but
# one check). `sidequest.tracing` installs one that opens a producer span and writes the
# trace context into the payload.
_enqueue_wrapper: Callable[[EnqueueAdapter], EnqueueAdapter] | None = None


def set_enqueue_wrapper(wrapper: Callable[[EnqueueAdapter], EnqueueAdapter] | None) -> None:
    global _enqueue_wrapper
    _enqueue_wrapper = wrapper


def wrapped(adapter: EnqueueAdapter) -> EnqueueAdapter:
    """`adapter` as the job API uses it: through the enqueue wrapper, if one is set."""
    wrapper = _enqueue_wrapper
    return adapter if wrapper is None else wrapper(adapter)


def set_outbox_factory(factory: Callable[[Any], EnqueueAdapter] | None) -> None:
    global _outbox_factory
    _outbox_factory = factory


def outbox_adapter(session: Any) -> EnqueueAdapter:
    """The adapter writing to `session`'s outbox table (`Job.set(outbox=session)`)."""
    if _outbox_factory is None:
        raise ConfigError("no outbox support installed (sidequest.outbox)")
    return _outbox_factory(session)


def current_adapter() -> EnqueueAdapter:
    adapter = _scoped.get() or _current
    if adapter is None:
        adapter = _install_fallback()
    return adapter


def _install_fallback() -> EnqueueAdapter:
    # Under a lock: threads enqueueing at once at start-up share one connection pool.
    with _fallback_lock:
        adapter = _current
        if adapter is None and _fallback is not None:
            adapter = _fallback()
            if adapter is not None:
                set_adapter(adapter)
    if adapter is None:
        raise ConfigError(
            "sidequest is not configured: call sidequest.configure(redis_url=...) at start-up "
            "or set REDIS_URL (the worker does this from its settings), or use "
            "sidequest.testing.fake() in tests"
        )
    return adapter


@contextmanager
def using(adapter: EnqueueAdapter) -> Iterator[EnqueueAdapter]:
    """Install `adapter` for the duration of a `with` block, then restore the previous one."""
    previous = _current
    set_adapter(adapter)
    try:
        yield adapter
    finally:
        set_adapter(previous)


def process_adapter() -> EnqueueAdapter:
    """The process-wide adapter, whatever this context collects into."""
    token = _scoped.set(None)
    try:
        return current_adapter()
    finally:
        _scoped.reset(token)


def scoped_adapter() -> EnqueueAdapter | None:
    """The adapter this context alone enqueues to, if any."""
    return _scoped.get()


@contextmanager
def scoped(adapter: EnqueueAdapter) -> Iterator[EnqueueAdapter]:
    """Enqueue to `adapter` in this thread or task only, for the `with` block."""
    token = _scoped.set(adapter)
    try:
        yield adapter
    finally:
        _scoped.reset(token)


# The job class whose payloads are being pushed right now. The Redis adapter has no use
# for it; the test adapters perform a job with the class that enqueued it, even when
# another class took the same name in the registry (last definition wins there).
_enqueuing: ContextVar[type[Any] | None] = ContextVar("sidequest_enqueuing", default=None)


@contextmanager
def enqueuing(job_class: type[Any]) -> Iterator[None]:
    token = _enqueuing.set(job_class)
    try:
        yield
    finally:
        _enqueuing.reset(token)


def enqueuing_class() -> type[Any] | None:
    return _enqueuing.get()
