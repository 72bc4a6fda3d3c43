"""Jobs with an async perform outside a worker: callbacks, context variables,
perform_now, the test adapters and async enqueue. No Redis."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sidequest import Job, after_perform, around_perform, before_perform, retry_on, testing
from sidequest.runtime.async_runtime import peek_class

trace: list[str] = []
current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="unset")


class AsyncAdd(Job):
    async def perform(self, a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b


class SyncAdd(Job):
    def perform(self, a: int, b: int) -> int:
        return a + b


class WithCallbacks(Job):
    @before_perform
    def remember(self) -> None:
        current.set(f"set-by-callback-{self.args[0]}")
        trace.append("before")

    @around_perform
    async def wrap(self, block: Callable[[], Awaitable[Any]]) -> None:
        trace.append("around-in")
        await block()
        trace.append("around-out")

    @around_perform
    def plain_around(self, block: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        # A plain function returning the awaitable block goes on, too.
        trace.append("plain-around")
        return block()

    @after_perform
    async def done(self) -> None:
        trace.append("after")

    async def perform(self, n: int) -> str:
        trace.append("perform")
        return current.get()


class Halting(Job):
    @around_perform
    async def stop(self, block: Callable[[], Awaitable[Any]]) -> None:
        trace.append("halted")

    async def perform(self) -> None:
        trace.append("perform")


class Flaky(Exception):
    pass


@retry_on(Flaky, wait=5, attempts=3)
class AsyncFlaky(Job):
    async def perform(self) -> None:
        raise Flaky("no")


class AsyncEnqueuer(Job):
    async def perform(self, count: int) -> None:
        await AsyncAdd.perform_later_async(1, 2)
        await SyncAdd.perform_bulk_async([[n, n] for n in range(count)])


@pytest.fixture(autouse=True)
def clear_trace() -> None:
    trace.clear()


def test_is_async_tells_the_kinds_apart() -> None:
    assert AsyncAdd.is_async() and not SyncAdd.is_async()


def test_perform_now_runs_an_async_job_to_completion() -> None:
    assert AsyncAdd.perform_now(2, 3) == 5


def test_perform_now_on_a_running_loop_returns_a_task_to_await() -> None:
    async def main() -> int:
        pending = AsyncAdd.perform_now(4, 5)
        assert isinstance(pending, asyncio.Future)
        result: int = await pending
        return result

    assert asyncio.run(main()) == 9


def test_callbacks_may_be_async_and_context_variables_reach_perform() -> None:
    assert WithCallbacks.perform_now(7) == "set-by-callback-7"
    assert trace == ["before", "around-in", "plain-around", "perform", "around-out", "after"]
    # Each run has a context of its own: the caller's variable is untouched.
    assert current.get() == "unset"


def test_an_around_callback_that_does_not_await_its_block_halts() -> None:
    assert Halting.perform_now() is None
    assert trace == ["halted"]


def test_retry_on_in_perform_now_enqueues_the_retry() -> None:
    with testing.fake() as jobs:
        assert AsyncFlaky.perform_now() is None
        (retry,) = jobs.enqueued(AsyncFlaky)
        assert retry.payload["exception_executions"] == {
            "[tests.unit.sidequest.test_async_perform.Flaky]": 1
        }


def test_drain_runs_async_jobs_and_what_they_enqueue() -> None:
    with testing.fake() as jobs:
        AsyncEnqueuer.perform_later(3)
        assert jobs.drain() == 1 + 1 + 3


def test_drain_async_runs_them_on_the_tests_loop() -> None:
    async def main() -> int:
        with testing.fake() as jobs:
            await AsyncEnqueuer.perform_later_async(2)
            return await jobs.drain_async()

    assert asyncio.run(main()) == 1 + 1 + 2


def test_inline_perform_later_async_returns_once_the_job_ran() -> None:
    async def main() -> list[str]:
        with testing.inline():
            await WithCallbacks.perform_later_async(1)
        return list(trace)

    assert asyncio.run(main())[-1] == "after"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b'{"class":"AsyncAdd","args":[1,2]}', b"AsyncAdd"),
        (b'{"retry":true, "class" : "a.b.C","args":[{"class":"X"}]}', b"a.b.C"),
        (
            json.dumps(
                {
                    "class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
                    "wrapped": "AsyncAdd",
                    "args": [],
                }
            ).encode(),
            b"AsyncAdd",
        ),
        (b"not json", None),
    ],
)
def test_the_class_is_read_from_the_raw_payload(raw: bytes, name: bytes | None) -> None:
    assert peek_class(raw) == name


def test_set_options_apply_to_async_enqueues() -> None:
    async def main() -> None:
        with testing.fake() as jobs:
            await AsyncAdd.set(queue="critical", wait=60).perform_later_async(1, 2)
            await SyncAdd.set(queue="bulk").perform_bulk_async([[1, 2], [3, 4]])
            (scheduled,) = jobs.enqueued(AsyncAdd)
            assert scheduled.queue == "critical" and scheduled.at is not None
            assert [job.queue for job in jobs.enqueued(SyncAdd)] == ["bulk", "bulk"]

    asyncio.run(main())
