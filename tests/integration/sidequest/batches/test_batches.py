"""Batches and chains run by real worker processes on a real redis-server.

Every callback is a job that records its label and batch in `test:callbacks`, so a
test counts exactly how often each one was pushed and ran.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable

import pytest
import redis

from sidequest import keys
from sidequest.batches import Batch, BatchError, BatchNotFound, chain
from tests.integration.sidequest.batches.batch_jobs import (
    CallbackJob,
    GateJob,
    MemberJob,
    NestJob,
    NoRetryMemberJob,
    StepJob,
)
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]


def callbacks(client: redis.Redis) -> Counter[str]:
    return Counter(client.lrange("test:callbacks", 0, -1))


def with_callbacks(description: str = "", **extra: object) -> Batch:
    return Batch(
        description,
        on_success=(CallbackJob, ["success"]),
        on_complete=(CallbackJob, ["complete"]),
        on_death=(CallbackJob, ["death"]),
        **extra,  # type: ignore[arg-type]
    )


def test_every_job_succeeding_fires_complete_and_success_once(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    batch = with_callbacks("twenty")
    with batch:
        for n in range(20):
            MemberJob.perform_later(n, fails=1 if n % 5 == 0 else 0)
    assert batch.status().total == 20
    start_batch_worker(enqueue_to, "-c", "5")
    wait_for(lambda: len(callbacks(redis_client)) >= 2, timeout=30, message="callbacks")
    status = Batch.find(batch.bid).status()
    assert (status.total, status.pending, status.succeeded, status.failed, status.dead) == (
        20,
        0,
        20,
        0,
        0,
    )
    assert status.complete and status.success
    assert status.done_at is not None and status.created_at is not None
    assert callbacks(redis_client) == {f"complete:{batch.bid}": 1, f"success:{batch.bid}": 1}
    # Four members failed once: retries ran, and were not counted as completion.
    assert redis_client.llen("test:runs") == 24
    assert redis_client.ttl(keys.batch(batch.bid)) > 29 * 24 * 3600
    assert redis_client.ttl(keys.batch_members(batch.bid)) > 29 * 24 * 3600


def test_a_dead_job_fires_death_once_and_complete_but_never_success(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    batch = with_callbacks("two die")
    with batch:
        for n in range(10):
            MemberJob.perform_later(n)
        NoRetryMemberJob.perform_later(10, dies=True)
        NoRetryMemberJob.perform_later(11, dies=True)
    start_batch_worker(enqueue_to, "-c", "4")
    wait_for(
        lambda: callbacks(redis_client)[f"complete:{batch.bid}"] == 1,
        timeout=30,
        message="complete",
    )
    wait_for(lambda: redis_client.llen(keys.queue("default")) == 0, message="queue drained")
    status = batch.status()
    assert (status.succeeded, status.dead, status.pending) == (10, 2, 0)
    assert status.complete and not status.success
    assert callbacks(redis_client) == {f"complete:{batch.bid}": 1, f"death:{batch.bid}": 1}


def test_an_empty_batch_fires_complete_and_success_at_once(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    batch = with_callbacks("empty")
    with batch:
        pass
    status = batch.status()
    assert status.complete and status.success and status.total == 0
    queued = redis_client.lrange(keys.queue("default"), 0, -1)
    assert sorted(q.split('"args":["')[1].split('"')[0] for q in queued) == ["complete", "success"]
    assert status.fired("complete") is not None and status.fired("death") is None


def test_a_batch_reopens_while_pending_and_refuses_once_complete(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    batch = with_callbacks("reopened")
    with batch:
        GateJob.perform_later(1)
    with Batch.find(batch.bid):
        GateJob.perform_later(2)
        MemberJob.perform_later(3)
    assert batch.status().total == 3
    start_batch_worker(enqueue_to, "-c", "4")
    wait_for(lambda: redis_client.llen("test:waiting") == 2, message="gates waiting")
    # The member ran and its acknowledgement counted it; both gates hold theirs.
    wait_for(lambda: batch.status().pending == 2, message="one member settled")
    redis_client.set("test:go", "1")
    wait_for(lambda: len(callbacks(redis_client)) == 2, timeout=20, message="callbacks")
    assert batch.status().succeeded == 3
    with pytest.raises(BatchError, match="complete"), Batch.find(batch.bid):
        MemberJob.perform_later(4)
    assert batch.status().total == 3
    with pytest.raises(BatchNotFound):
        Batch.find("0" * 24)


def test_a_block_that_raises_pushes_nothing(enqueue_to: str, redis_client: redis.Redis) -> None:
    batch = with_callbacks()
    with pytest.raises(ValueError), batch:
        MemberJob.perform_later(1)
        raise ValueError("abandoned")
    with pytest.raises(BatchNotFound):
        batch.status()
    assert redis_client.llen(keys.queue("default")) == 0


def test_nested_three_levels_complete_innermost_first(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    top = with_callbacks("top")
    with top:
        NestJob.perform_later(3)
    start_batch_worker(enqueue_to, "-c", "3")
    wait_for(lambda: callbacks(redis_client)[f"success:{top.bid}"] == 1, timeout=30, message="top")
    wait_for(lambda: redis_client.llen("test:callbacks") >= 5, message="all callbacks")
    labels = [entry.split(":")[0] for entry in redis_client.lrange("test:callbacks", 0, -1)]
    assert sorted(labels) == ["complete", "level1", "level2", "level3", "success"]
    assert redis_client.lrange("test:runs", 0, -1) == ["nest3", "nest2", "nest1", "nest0"]
    status = top.status()
    # The top batch: its NestJob and the level-3 child batch.
    assert (status.total, status.succeeded, status.pending) == (2, 2, 0)
    children = [member for member in top.members() if member.startswith("b:")]
    assert len(children) == 1
    level3 = Batch.find(children[0][2:]).status()
    assert level3.parent == top.bid and level3.complete and level3.total == 2
    # Children complete before their parents: the top completes last.
    assert status.done_at is not None and level3.done_at is not None
    assert level3.done_at <= status.done_at


def waiting_payloads_with(client: redis.Redis, text: str) -> list[str]:
    """Payloads holding `text` in any queue, in-flight hash or landing list."""
    found: list[str] = []
    for queue in client.smembers(keys.QUEUES):
        found += client.lrange(keys.queue(str(queue)), 0, -1)
    for key in client.scan_iter(match=keys.PREFIX + "inflight:*"):
        found += client.hvals(key)
    for key in client.scan_iter(match=keys.PREFIX + "landing:*"):
        found += client.lrange(key, 0, -1)
    return [raw for raw in found if text in raw]


def test_a_chain_whose_middle_step_dies_stops_and_fires_death(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    batch = with_callbacks("chain")
    with batch:
        chain(StepJob.s("a"), StepJob.s("b", dies=True), StepJob.s("c")).perform_later()
    assert batch.status().total == 1  # a step joins the batch when it is pushed
    start_batch_worker(enqueue_to, "-c", "2")
    wait_for(lambda: len(callbacks(redis_client)) >= 2, timeout=20, message="callbacks")
    # A third step would have been pushed by the Lua call that buried step b, before
    # that call fired the death callback: it would now be queued, held or recorded.
    assert not waiting_payloads_with(redis_client, '"c"')
    assert redis_client.lrange("test:steps", 0, -1) == ["a", "b"]
    assert callbacks(redis_client) == {f"complete:{batch.bid}": 1, f"death:{batch.bid}": 1}
    status = batch.status()
    assert (status.total, status.succeeded, status.dead, status.pending) == (2, 1, 1, 0)


def test_a_chain_runs_its_steps_in_order_without_a_batch(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    chain(StepJob.s("one"), StepJob.s("two"), StepJob.s("three")).perform_later()
    start_batch_worker(enqueue_to, "-c", "4")
    wait_for(lambda: redis_client.llen("test:steps") == 3, message="three steps")
    assert redis_client.lrange("test:steps", 0, -1) == ["one", "two", "three"]


def test_the_last_two_jobs_finishing_at_once_in_two_processes_fire_one_callback(
    enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    rounds = 15
    batches = []
    for _ in range(rounds):
        batch = with_callbacks("pair")
        with batch:
            GateJob.perform_later(1)
            GateJob.perform_later(2)
        batches.append(batch)
    # Two processes of one thread each: each takes one job of the first pair, and both
    # finish the moment the gate opens.
    first = start_batch_worker(enqueue_to, "-c", "1")
    second = start_batch_worker(enqueue_to, "-c", "1")
    wait_for(lambda: redis_client.llen("test:waiting") == 2, message="both waiting")
    redis_client.set("test:go", "1")
    wait_for(lambda: len(callbacks(redis_client)) == 2 * rounds, timeout=60, message="callbacks")
    counted = callbacks(redis_client)
    for batch in batches:
        assert counted[f"complete:{batch.bid}"] == 1
        assert counted[f"success:{batch.bid}"] == 1
    # The first pair waited at the gate in both processes at once.
    pids = {entry.split(":")[0] for entry in redis_client.lrange("test:waiting", 0, 1)}
    assert pids == {str(first.pid), str(second.pid)}


@pytest.mark.parametrize("fault", ["sigkill", "freeze"])
def test_a_member_whose_worker_died_or_froze_counts_once_and_fires_once(
    fault: str, enqueue_to: str, redis_client: redis.Redis, start_batch_worker: Start
) -> None:
    """A killed worker's member is recovered and run again; a frozen worker's late
    success, once it thaws, is refused by fencing and does not count a second time."""
    batch = with_callbacks(fault)
    with batch:
        GateJob.perform_later(1)
        MemberJob.perform_later(2)
    first = start_batch_worker(enqueue_to, "-c", "2")
    wait_for(lambda: redis_client.llen("test:waiting") == 1, message="the gate job running")
    wait_for(lambda: batch.status().pending == 1, message="the other member settled")
    first.signal(signal.SIGKILL if fault == "sigkill" else signal.SIGSTOP)
    try:
        start_batch_worker(enqueue_to, "-c", "2")
        wait_for(lambda: redis_client.llen("test:waiting") == 2, timeout=20, message="run again")
        redis_client.set("test:go", "1")
        wait_for(lambda: len(callbacks(redis_client)) == 2, timeout=20, message="callbacks")
    finally:
        if fault == "freeze":
            first.signal(signal.SIGCONT)
    if fault == "freeze":
        first.line_with("outcomes refused", timeout=20)
    wait_for(lambda: redis_client.llen("test:callbacks") == 2, message="the callbacks ran")
    assert callbacks(redis_client) == {f"complete:{batch.bid}": 1, f"success:{batch.bid}": 1}
    status = batch.status()
    assert (status.total, status.succeeded, status.pending, status.dead) == (2, 2, 0, 0)
