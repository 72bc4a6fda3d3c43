"""How a worker's manager splits fetched jobs between its threads and its event loop,
and how many jobs it asks the fetcher for (runtime/manager.py, runtime/async_runtime.py).
No Redis, no threads started."""

from __future__ import annotations

from sidequest.config import Settings
from sidequest.middleware import MiddlewareChain
from sidequest.runtime.async_executor import AsyncExecutor
from sidequest.runtime.async_runtime import AsyncRuntime
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.manager import Manager
from sidequest.runtime.watchdog import Watchdog

_serial = 0


def _job(name: str, extra: str = "") -> Fetched:
    global _serial
    _serial += 1
    raw = f'{{"class":"{name}","args":[],"jid":"{_serial:024x}"{extra}}}'.encode()
    return Fetched(f"{_serial}:default", "default", raw)


def _manager(concurrency: int = 5, async_concurrency: int = 8) -> tuple[Manager, AsyncRuntime]:
    settings = Settings(concurrency=concurrency, prefetch=2, max_recoveries=3)
    watchdog: Watchdog[TimedRun] = Watchdog(1.0, lambda guard: None)
    executor = Executor(settings, MiddlewareChain(), watchdog)
    manager = Manager(settings, executor, lambda: None)
    runtime = AsyncRuntime(
        async_concurrency,
        AsyncExecutor(executor, 1.0),
        manager.isolation,
        settings.max_recoveries,
        lambda: None,
        names=frozenset({b"FetchJob"}),
    )
    manager.attach_async(runtime)
    return manager, runtime


def test_without_async_classes_nothing_changes() -> None:
    settings = Settings(concurrency=5, prefetch=2)
    watchdog: Watchdog[TimedRun] = Watchdog(1.0, lambda guard: None)
    executor = Executor(settings, MiddlewareChain(), watchdog)
    manager = Manager(settings, executor, lambda: None)
    runtime = AsyncRuntime(
        100, AsyncExecutor(executor, 1.0), manager.isolation, 3, lambda: None, names=frozenset()
    )
    manager.attach_async(runtime)  # as in a process whose job classes are all sync
    assert manager.async_side is None
    assert manager.free_slots() == 5 + 2


def test_fetched_jobs_go_to_their_side_and_stay_known() -> None:
    manager, runtime = _manager()
    jobs = [_job("FetchJob"), _job("ReportJob"), _job("FetchJob")]
    manager.dispatch(jobs)
    assert runtime.held == 2 and not manager.idle
    assert manager.known_fields() == {job.field for job in jobs}
    # Quiet/stop: the unstarted jobs of both sides go back.
    taken = manager.take_unstarted()
    assert sorted(job.field for job in taken) == sorted(job.field for job in jobs)
    assert runtime.held == 0 and manager.idle


def test_a_job_at_its_last_recovery_runs_on_a_thread() -> None:
    manager, runtime = _manager()
    manager.dispatch([_job("FetchJob", ',"recoveries":3')])
    assert runtime.held == 0


def test_a_stream_of_async_jobs_stops_fetching_once_the_loop_is_full() -> None:
    manager, runtime = _manager(concurrency=5, async_concurrency=8)
    # Before any fetch: the threads' slots and the loop's room with its spare (8 + 2).
    assert manager.free_slots() == (5 + 2) + (8 + 2)
    rounds = 0
    while (limit := manager.free_slots()) > 0:
        rounds += 1
        assert rounds < 50, "the manager keeps asking for jobs"
        manager.dispatch([_job("FetchJob") for _ in range(limit)])
    # At most the loop's slots, its spare and what one fetch for the threads brought.
    assert 8 + 2 <= runtime.held <= 8 + 2 + 5 + 2
    assert not manager.needs_refill()
