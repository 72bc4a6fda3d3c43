"""What a Redis restart can take, with AOF and without persistence.

A redis-server **process** that dies (SIGKILL, the OOM killer) loses nothing it wrote to
its AOF, whatever `appendfsync` says: the written bytes are in the kernel's page cache,
which outlives the process. With `everysec` Redis writes each command to the file
before it replies, except while its previous once-a-second fsync still runs: then it
holds new writes in memory for up to 2 s and replies anyway, so a process crash can
lose those.

A **host** crash (power loss, kernel panic) also loses the page cache: only what was
fsynced survives. With `appendfsync always` Redis fsyncs every write before it replies,
so a host crash loses nothing it acknowledged; `host_crash.py` shows it by keeping only
the bytes that a completed fsync covered (strace sees every write and fsync). With
`everysec` the unsynced last second is lost, which the chaos run simulates (aof.py).

Without persistence, a restart empties Redis: whatever waited in a queue or a set is
gone. Jobs a worker had already fetched still run, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.chaos.host_crash import TracedRedis, synced_size
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer


def test_with_appendfsync_always_a_host_crash_loses_no_acknowledged_enqueue(
    tmp_path: Path,
) -> None:
    server = TracedRedis(tmp_path / "redis", appendfsync="always")
    server.start_traced()
    try:
        sidequest.configure(server.url)
        try:
            jids = jobs.RecordJob.perform_bulk([[n] for n in range(5000)])
            # One by one too: each is acknowledged after a round trip of its own.
            jids += [jobs.RecordJob.perform_later(n).jid for n in range(200)]
        finally:
            set_adapter(None)
        # The host dies the moment the last enqueue was acknowledged: everything not
        # fsynced by then is gone.
        server.crash()
        server.start()
        assert _queued_jids(server.server) == set(jids)
    finally:
        server.stop()


def test_the_simulated_host_crash_keeps_only_what_fsync_covered(tmp_path: Path) -> None:
    # The control: with `appendfsync no` Redis leaves syncing to the kernel, so the
    # same crash takes acknowledged enqueues. The simulation tells the policies apart.
    server = TracedRedis(tmp_path / "redis", appendfsync="no")
    server.start_traced()
    try:
        sidequest.configure(server.url)
        try:
            jids = jobs.RecordJob.perform_bulk([[n] for n in range(5000)])
        finally:
            set_adapter(None)
        assert server.crash() > 0
        server.start()
        assert len(_queued_jids(server.server)) < len(jids)
    finally:
        server.stop()


def test_synced_size_counts_writes_a_completed_sync_began_after() -> None:
    path = Path("/data/appendonlydir/a.incr.aof")
    trace = "\n".join(
        [
            f'100 write(7<{path}>, "...", 10) = 10',
            '100 write(8</other/file>, "...", 99) = 99',
            f"100 fdatasync(7<{path}>) = 0",
            f'100 write(7<{path}>, "...", 5) = 5',
            f"101 fdatasync(7<{path}> <unfinished ...>",
            f'100 write(7<{path}>, "...", 7) = 7',
            "101 <... fdatasync resumed>) = 0",
            f'100 write(7<{path}>, "...", 3) = 3',
            f"101 fdatasync(7<{path}> <unfinished ...>",
        ]
    )
    # The second sync began after 15 bytes (the 7 written meanwhile may not be on disk);
    # the third never returned.
    assert synced_size(trace, path) == 15
    assert synced_size("\n".join(trace.splitlines()[:3]), path) == 10


def test_with_everysec_a_redis_process_crash_keeps_every_enqueue_redis_wrote_to_its_file(
    own_redis_server: RedisServer,
) -> None:
    assert own_redis_server.client().config_get("appendfsync") == {"appendfsync": "everysec"}

    def written(client: redis.Redis) -> None:
        # Not fsynced yet (that waits for the next second), only handed to the kernel.
        wait_for(
            lambda: int(client.info("persistence")["aof_buffer_length"]) == 0,
            timeout=5,
            message="Redis to write its AOF buffer to the file",
        )

    jids = _enqueue_and_crash(own_redis_server, written)
    assert _queued_jids(own_redis_server) == set(jids)


def _enqueue_and_crash(
    server: RedisServer, before_crash: Callable[[redis.Redis], None]
) -> list[str]:
    sidequest.configure(server.url)
    try:
        jids = jobs.RecordJob.perform_bulk([[n] for n in range(5000)])
    finally:
        set_adapter(None)
    client = server.client()
    before_crash(client)
    client.close()
    server.stop(kill=True)
    server.start()
    return jids


def _queued_jids(server: RedisServer) -> set[str]:
    client = server.client()
    try:
        return {json.loads(raw)["jid"] for raw in client.lrange(keys.queue("default"), 0, -1)}
    finally:
        client.close()


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
