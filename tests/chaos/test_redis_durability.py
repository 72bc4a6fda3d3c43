"""What a Redis restart can take, with AOF and without persistence.

With AOF (appendfsync everysec), Redis writes every command to the file before it
replies; the fsync follows within a second. A redis-server process that dies (SIGKILL,
the OOM killer) loses nothing it acknowledged: the page cache survives it. Only a host
crash loses the unsynced tail; the chaos run simulates that one (aof.py).

Without persistence, a restart empties Redis: whatever waited in a queue or a set is
gone. Jobs a worker had already fetched still run, once.
"""

from __future__ import annotations

import json
from pathlib import Path

import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer


def test_a_redis_process_crash_loses_no_acknowledged_enqueue_with_everysec(
    own_redis_server: RedisServer,
) -> None:
    client = own_redis_server.client()
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    sidequest.configure(own_redis_server.url)
    try:
        jids = jobs.RecordJob.perform_bulk([[n] for n in range(5000)])
    finally:
        set_adapter(None)
    # SIGKILL right after the last reply, long before the next fsync.
    own_redis_server.stop(kill=True)
    own_redis_server.start()
    client = own_redis_server.client()
    stored = {json.loads(raw)["jid"] for raw in client.lrange(keys.queue("default"), 0, -1)}
    assert stored == set(jids)


def test_without_persistence_a_restart_loses_waiting_jobs_and_workers_carry_on(
    tmp_path: Path, start_worker: StartWorker
) -> None:
    server = RedisServer(tmp_path / "redis")  # no AOF, no snapshots
    witness = RedisServer(tmp_path / "witness")
    server.start()
    witness.start()
    record = witness.client()
    try:
        record.set("test:hold", 1)
        sidequest.configure(server.url)
        try:
            held = jobs.HoldJob.perform_bulk([[n] for n in range(4)])
            waiting = jobs.RecordJob.perform_bulk([[n] for n in range(20)])
        finally:
            set_adapter(None)
        worker = start_worker(server.url, "-c", "2", env={"WITNESS_URL": witness.url})
        wait_for(lambda: record.llen("test:started") == 2, message="two jobs running")
        # Two run; whatever else the worker fetched waits in its memory.
        admin = server.client()
        identity = admin.smembers(keys.PROCESSES).pop()
        in_memory = [
            json.loads(raw)["jid"]
            for raw in admin.hvals(keys.inflight(identity))
            + admin.lrange(keys.landing(identity), 0, -1)
        ]
        assert set(in_memory) <= set(held) and len(in_memory) >= 2

        server.stop(kill=True)
        server.start()
        client = server.client()
        record.delete("test:hold")

        # What the worker held runs, once; what waited in Redis is gone.
        wait_for(
            lambda: sorted(record.lrange("test:done", 0, -1)) == sorted(in_memory),
            timeout=15,
            message="the fetched jobs to finish",
        )
        assert not set(record.lrange("test:runs", 0, -1)) & set(waiting)
        assert not client.llen(keys.queue("default"))
        # The worker noticed, beats again and takes new work.
        assert worker.running()
        wait_for(lambda: client.smembers(keys.PROCESSES), message="the worker's heartbeat back")
        sidequest.configure(server.url)
        try:
            after = jobs.RecordJob.perform_bulk([[n] for n in range(5)])
        finally:
            set_adapter(None)
        wait_for(
            lambda: set(record.lrange("test:runs", 0, -1)) == set(after),
            timeout=15,
            message="jobs enqueued after the restart",
        )
        assert "refused" in worker.log()
        assert sorted(record.lrange("test:done", 0, -1)) == sorted(in_memory)
    finally:
        record.close()
        witness.stop()
        server.stop()


def test_a_unique_job_keeps_its_lock_through_a_worker_crash(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    redis_client.set("test:hold", 1)
    sidequest.configure(redis_url)
    try:
        first = jobs.UniqueHoldJob.perform_later(7)
        doomed = start_worker(redis_url, "-c", "2")
        wait_for(lambda: redis_client.lrange("test:started", 0, -1) == [first.jid])
        doomed.kill()
        # In flight in a dead process, the job still holds its lock.
        second = jobs.UniqueHoldJob.perform_later(7)
        assert not second.successfully_enqueued and second.duplicate_of == first.jid

        redis_client.delete("test:hold")
        start_worker(redis_url, "-c", "2")
        wait_for(lambda: redis_client.lrange("test:done", 0, -1) == [first.jid], timeout=15)
        wait_for(lambda: not redis_client.keys(keys.unique_lock("*")), message="lock released")
        third = jobs.UniqueHoldJob.perform_later(7)
        assert third.successfully_enqueued
    finally:
        set_adapter(None)
