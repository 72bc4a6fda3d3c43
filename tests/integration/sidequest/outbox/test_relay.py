"""The outbox: jobs committed with the application's data reach Redis exactly once.

Real SQLite files and PostgreSQL databases, a real redis-server, real relay threads and
processes (one SIGKILLed between its push and its delete).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sidequest import keys
from sidequest.outbox import Relay, enqueue_in, status
from tests.integration.sidequest.outbox.conftest import engine_for, pending_rows
from tests.integration.sidequest.outbox.outbox_jobs import OutboxNoteJob, OutboxUniqueJob
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def queued(client: redis.Redis, queue: str = "outbox") -> list[dict[str, object]]:
    """The queue's jobs, oldest first."""
    return [json.loads(raw) for raw in reversed(client.lrange(keys.queue(queue), 0, -1))]


def notes(client: redis.Redis) -> list[str]:
    return [str(job["args"][0]) for job in queued(client)]  # type: ignore[index]


def test_a_committed_job_is_pushed_once_and_its_row_deleted(
    engine: Engine, redis_client: redis.Redis
) -> None:
    with Session(engine) as session, session.begin():
        job = OutboxNoteJob.set(outbox=session).perform_later("hello")
    assert job.successfully_enqueued
    assert pending_rows(engine) == 1
    assert queued(redis_client) == []  # nothing reaches Redis before a relay runs

    relay = Relay(engine, redis_client)
    result = relay.relay_once()

    assert (result.deleted, result.pushed) == (1, 1)
    [pushed] = queued(redis_client)
    assert pushed["jid"] == job.jid
    assert pushed["class"] == "OutboxNoteJob"
    assert isinstance(pushed["enqueued_at"], float)
    assert redis_client.sismember(keys.QUEUES, "outbox")
    assert pending_rows(engine) == 0
    assert relay.relay_once().deleted == 0


def test_a_rolled_back_transaction_enqueues_nothing(
    engine: Engine, redis_client: redis.Redis
) -> None:
    with Session(engine) as session:
        session.begin()
        OutboxNoteJob.set(outbox=session).perform_later("never")
        session.rollback()
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        OutboxNoteJob.set(outbox=session).perform_later("never either")
        raise RuntimeError("the request failed")

    assert pending_rows(engine) == 0
    assert Relay(engine, redis_client).relay_once().pushed == 0
    assert queued(redis_client) == []


def test_a_transactions_jobs_arrive_in_the_order_written_also_through_enqueue_in(
    engine: Engine, redis_client: redis.Redis
) -> None:
    with Session(engine) as session, session.begin(), enqueue_in(session):
        for index in range(5):
            OutboxNoteJob.perform_later(f"a{index}")
        OutboxNoteJob.perform_bulk([["a5"], ["a6"]])
    with Session(engine) as session, session.begin():
        for index in range(3):
            OutboxNoteJob.set(outbox=session).perform_later(f"b{index}")

    Relay(engine, redis_client, batch_size=4).start().stop()  # a pass or two, then stop
    relay = Relay(engine, redis_client, batch_size=4)
    while relay.relay_once().deleted:
        pass

    assert notes(redis_client) == [f"a{i}" for i in range(7)] + [f"b{i}" for i in range(3)]


def test_scheduled_and_unique_jobs_go_through_the_outbox(
    engine: Engine, redis_client: redis.Redis
) -> None:
    at = time.time() + 3600
    with Session(engine) as session, session.begin():
        later = OutboxNoteJob.set(outbox=session, wait_until=at).perform_later("later")
        first = OutboxUniqueJob.set(outbox=session).perform_later("k")
        second = OutboxUniqueJob.set(outbox=session).perform_later("k")

    result = Relay(engine, redis_client).relay_once()

    assert (result.pushed, result.refused) == (2, 1)
    [(member, score)] = redis_client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    assert json.loads(member)["jid"] == later.jid
    assert score == pytest.approx(at)
    [unique] = queued(redis_client)
    assert unique["jid"] == first.jid != second.jid
    digest = str(unique["unique_digest"])
    assert redis_client.get(keys.unique_lock(digest)) == first.jid


def test_a_relay_killed_between_push_and_delete_pushes_nothing_twice(
    database_url: str, engine: Engine, redis_url: str, redis_client: redis.Redis
) -> None:
    with Session(engine) as session, session.begin():
        jids = [OutboxNoteJob.set(outbox=session).perform_later(f"n{i}").jid for i in range(3)]

    killed = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [
            sys.executable,
            "-m",
            "tests.integration.sidequest.outbox.relay_process",
            database_url,
            redis_url,
            "--kill-after-push",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert killed.returncode == -9, killed.stderr
    assert killed.stdout.strip() == "pushed 3"
    assert [job["jid"] for job in queued(redis_client)] == jids  # pushed ...
    assert pending_rows(engine) == 3  # ... and never deleted
    result = Relay(engine, redis_client).relay_once()
    assert (result.deleted, result.pushed, result.already_pushed) == (3, 0, 3)
    assert [job["jid"] for job in queued(redis_client)] == jids
    assert pending_rows(engine) == 0


def test_a_pass_that_fails_after_its_push_leaves_the_rows_and_the_next_pushes_nothing(
    engine: Engine, redis_client: redis.Redis
) -> None:
    with Session(engine) as session, session.begin():
        job = OutboxNoteJob.set(outbox=session).perform_later("once")

    def fail(_rows: object) -> None:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        Relay(engine, redis_client, after_push=fail).relay_once()
    assert pending_rows(engine) == 1
    assert Relay(engine, redis_client).relay_once().already_pushed == 1
    assert [pushed["jid"] for pushed in queued(redis_client)] == [job.jid]


def test_two_relays_at_once_push_every_job_once_in_order_per_transaction(
    engine: Engine, redis_client: redis.Redis
) -> None:
    transactions, per_transaction = 60, 7
    relays = [Relay(engine, redis_client, batch_size=5, poll_interval=0.05) for _ in range(2)]
    passes: list[int] = [0, 0]
    for index, relay in enumerate(relays):
        relay.observer = lambda result, index=index: passes.__setitem__(  # type: ignore[misc]
            index, passes[index] + result.deleted
        )
        relay.start()

    def write(writer: int) -> None:
        for number in range(transactions // 3):
            with Session(engine) as session, session.begin():
                for step in range(per_transaction):
                    OutboxNoteJob.set(outbox=session).perform_later(f"{writer}-{number}-{step}")

    writers = [threading.Thread(target=write, args=(writer,)) for writer in range(3)]
    try:
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(60)
        total = transactions * per_transaction
        wait_for(lambda: len(queued(redis_client)) >= total, timeout=30, message="every job")
        wait_for(lambda: pending_rows(engine) == 0, timeout=10, message="an empty outbox")
    finally:
        for relay in relays:
            relay.stop()

    arrived = notes(redis_client)
    assert len(arrived) == len(set(arrived)) == total
    by_transaction: dict[str, list[int]] = {}
    for note in arrived:
        writer, number, step = note.split("-")
        by_transaction.setdefault(f"{writer}-{number}", []).append(int(step))
    assert all(steps == list(range(per_transaction)) for steps in by_transaction.values())
    if engine.dialect.name == "postgresql":
        # SKIP LOCKED: both relays took a share of the work.
        assert min(passes) > 0, passes


def test_with_redis_down_commits_succeed_and_the_jobs_go_out_when_it_returns(
    engine: Engine, own_redis_server: RedisServer
) -> None:
    client = redis.Redis.from_url(own_redis_server.url, socket_timeout=2)
    relay = Relay(engine, client, poll_interval=0.05).start()
    try:
        own_redis_server.stop()
        with Session(engine) as session, session.begin():
            job = OutboxNoteJob.set(outbox=session).perform_later("while down")
        assert status(engine).pending == 1
        own_redis_server.start()
        wait_for(lambda: pending_rows(engine) == 0, timeout=15, message="the relay to catch up")
    finally:
        relay.stop()
    assert [pushed["jid"] for pushed in queued(own_redis_server.client())] == [job.jid]


def test_commit_to_redis_latency_with_a_relay_thread_is_a_few_milliseconds(
    engine: Engine, redis_client: redis.Redis
) -> None:
    """The in-process nudge: the relay wakes at the commit, not at its 0.5 s poll."""
    relay = Relay(engine, redis_client).start()
    try:
        latencies = commit_to_redis(engine, redis_client, 50)
    finally:
        relay.stop()
    p50, p99 = _percentiles(latencies)
    print(f"\n{engine.dialect.name} in-process commit-to-Redis: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert p50 < 100  # ms; generous for a loaded 2-core machine, typically a few


def test_postgres_notify_wakes_a_relay_of_another_process(
    postgres_url: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """LISTEN/NOTIFY: a relay in another process with a 30 s poll still relays at once."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.sidequest.outbox.relay_process",
            postgres_url,
            redis_url,
        ],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "POLL_INTERVAL": "30", "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = engine_for(postgres_url)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        latencies = commit_to_redis(engine, redis_client, 30)
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()
        engine.dispose()
    p50, p99 = _percentiles(latencies[1:])  # the first waits for LISTEN to be in place
    print(f"\npostgresql NOTIFY commit-to-Redis: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert p50 < 100  # ms


def commit_to_redis(engine: Engine, client: redis.Redis, count: int) -> list[float]:
    """Seconds from each of `count` commits to its job in Redis, one after the other."""
    latencies = []
    key = keys.queue("outbox")
    for index in range(count):
        with Session(engine) as session, session.begin():
            OutboxNoteJob.set(outbox=session).perform_later(f"l{index}")
        committed = time.perf_counter()
        wait_for(lambda n=index: client.llen(key) > n, timeout=5, interval=0.0005)  # type: ignore[misc]
        latencies.append(time.perf_counter() - committed)
    return latencies


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000
