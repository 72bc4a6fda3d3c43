"""Which push an async enqueue takes: awaited `push_async`, the synchronous push on a
thread (a tracing wrapper hides `push_async`), or a direct call (test adapters)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sidequest import Job, testing
from sidequest.adapter import (
    DebounceSpec,
    EnqueueAdapter,
    PushResult,
    UniqueSpec,
    set_enqueue_wrapper,
    using,
)
from sidequest.payload import JobDict


class Pinged(Job):
    async def perform(self, n: int) -> None:
        pass


class AsyncCapable:
    """An adapter like the Redis one: push_async and push_bulk_async beside the sync pair."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def push(
        self,
        payload: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        self.calls.append(("push", threading.current_thread().name, {"debounce": debounce}))
        return PushResult(enqueued=True, scheduled_at=123.0 if debounce else None)

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        self.calls.append(("push_bulk", threading.current_thread().name, {}))

    async def push_async(
        self,
        payload: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        self.calls.append(("push_async", threading.current_thread().name, {"debounce": debounce}))
        return PushResult(enqueued=True, scheduled_at=456.0 if debounce else None)

    async def push_bulk_async(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        self.calls.append(("push_bulk_async", threading.current_thread().name, {}))


class Wrapper:
    """A wrapper as sidequest.tracing installs: only the synchronous pair."""

    def __init__(self, inner: EnqueueAdapter, seen: list[str]):
        self.inner = inner
        self.seen = seen

    def push(self, payload: JobDict, **options: Any) -> PushResult:
        self.seen.append(f"push {payload['jid']}")
        return self.inner.push(payload, **options)

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        self.seen.append(f"push_bulk {len(payloads)}")
        self.inner.push_bulk(payloads, at=at)


def test_an_adapter_with_push_async_is_awaited_on_the_loop() -> None:
    adapter = AsyncCapable()

    async def main() -> str:
        with using(adapter):
            await Pinged.perform_later_async(1)
            await Pinged.perform_bulk_async([[2], [3]])
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert [(name, thread) for name, thread, _ in adapter.calls] == [
        ("push_async", loop_thread),
        ("push_bulk_async", loop_thread),
    ]


def test_a_debounced_async_enqueue_passes_the_debounce_and_takes_its_due_time() -> None:
    adapter = AsyncCapable()

    async def main() -> Job:
        with using(adapter):
            return await Pinged.set(debounce=5).perform_later_async(1)

    job = asyncio.run(main())
    ((name, _, options),) = adapter.calls
    assert name == "push_async"
    assert isinstance(options["debounce"], DebounceSpec) and options["debounce"].window == 5
    assert job.scheduled_at == 456.0


def test_behind_an_enqueue_wrapper_the_wrapped_sync_push_runs_on_a_thread() -> None:
    adapter = AsyncCapable()
    seen: list[str] = []
    set_enqueue_wrapper(lambda inner: Wrapper(inner, seen))
    try:

        async def main() -> tuple[str, Pinged]:
            with using(adapter):
                job = await Pinged.perform_later_async(1)
                await Pinged.perform_bulk_async([[2], [3]])
            return threading.current_thread().name, job

        loop_thread, job = asyncio.run(main())
    finally:
        set_enqueue_wrapper(None)
    assert seen == [f"push {job.jid}", "push_bulk 2"]  # through the wrapper
    assert [name for name, _, _ in adapter.calls] == ["push", "push_bulk"]
    assert all(thread != loop_thread for _, thread, _ in adapter.calls)
    assert job.successfully_enqueued


def test_inline_runs_a_debounced_async_enqueue_at_once() -> None:
    ran: list[int] = []

    class Counted(Job):
        async def perform(self, n: int) -> None:
            ran.append(n)

    async def main() -> None:
        with testing.inline():
            await Counted.set(debounce=5).perform_later_async(7)

    asyncio.run(main())
    assert ran == [7]
