"""SIGKILL at each step of a job's trip through a worker: fetch, perform, acknowledge.

The worker under test talks to Redis through a TCP proxy, which lets the test act at
the exact moment the worker sends a command (`when_sent`): kill the process while its
fetch is on the way, or while its acknowledgement is, and decide whether those bytes
still reach Redis. A second worker, connected directly, recovers what was lost.
"""

from __future__ import annotations

import redis

import sidequest
from sidequest import keys, scripts
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

# A heartbeat timeout long enough that the lease is still there when the held bytes land.
SLOW_LEASE = {"SIDEQUEST_HEARTBEAT_INTERVAL": "0.2", "SIDEQUEST_HEARTBEAT_TIMEOUT": "4"}


def _identity(client: redis.Redis) -> str:
    members = wait_for(lambda: client.smembers(keys.PROCESSES), message="heartbeat")
    return str(members.pop())


def test_killed_while_its_fetch_is_on_the_way_the_job_is_recovered_and_runs_once(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    # One thread and no prefetch, held busy: the worker is not idle, so no queue waiter
    # lands the next job; the fetcher's exchange takes it once the thread is free.
    redis_client.set("test:hold", 1)
    sidequest.configure(redis_url)
    try:
        jobs.HoldJob.perform_later(0)
    finally:
        set_adapter(None)
    with TcpProxy(redis_server.port) as proxy:
        doomed = start_worker(proxy.url, "-c", "1", env={**SLOW_LEASE, "SIDEQUEST_PREFETCH": "0"})
        identity = _identity(redis_client)
        wait_for(lambda: redis_client.llen("test:started") == 1, message="the thread busy")

        def kill_if_this_fetch_takes_the_job() -> None:
            # Runs before the proxy forwards the fetch: with the job queued now, the
            # fetch will take it, and reach Redis only after the process died.
            if redis_client.llen(keys.queue("default")):
                doomed.kill()
            else:
                proxy.when_sent(scripts.EXCHANGE.sha.encode(), kill_if_this_fetch_takes_the_job)

        sidequest.configure(redis_url)
        try:
            job = jobs.RecordJob.perform_later(1)
        finally:
            set_adapter(None)
        proxy.when_sent(scripts.EXCHANGE.sha.encode(), kill_if_this_fetch_takes_the_job)
        redis_client.delete("test:hold")
        wait_for(lambda: not doomed.running(), message="the worker killed as it fetched")
        wait_for(
            lambda: any(job.jid in raw for raw in redis_client.hvals(keys.inflight(identity))),
            message="the job in the dead process's in-flight hash",
        )

    start_worker(redis_url, "-c", "2")
    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [job.jid], timeout=15)
    wait_for(lambda: not redis_client.exists(keys.inflight(identity)), message="hash recovered")


def test_killed_while_a_landed_job_is_on_its_way_the_job_is_recovered_and_runs_once(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    with TcpProxy(redis_server.port) as proxy:
        doomed = start_worker(proxy.url, "-c", "2", env=SLOW_LEASE)
        identity = _identity(redis_client)
        wait_for(
            lambda: (
                redis_client.client_list(_type="normal")
                and any(client.get("cmd") == "blmove" for client in redis_client.client_list())
            ),
            message="the idle worker's waiter blocked in BLMOVE",
        )
        # Redis moves the job into the landing list and replies; the process dies
        # before the reply reaches it.
        proxy.when_received(b"RecordJob", doomed.kill)
        sidequest.configure(redis_url)
        try:
            job = jobs.RecordJob.perform_later(1)
        finally:
            set_adapter(None)
        wait_for(lambda: not doomed.running(), message="the worker killed as its job landed")
        landed = redis_client.lrange(keys.landing(identity), 0, -1)
        assert [job.jid in raw for raw in landed] == [True]

    start_worker(redis_url, "-c", "2")
    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [job.jid], timeout=15)
    wait_for(lambda: not redis_client.exists(keys.landing(identity)), message="landing recovered")
    assert identity not in redis_client.smembers(keys.OWNERS)


def test_killed_while_performing_the_job_is_recovered_and_runs_again(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    redis_client.set("test:hold", 1)
    sidequest.configure(redis_url)
    try:
        job = jobs.HoldJob.perform_later(1)
    finally:
        set_adapter(None)
    doomed = start_worker(redis_url, "-c", "2")
    wait_for(lambda: redis_client.lrange("test:started", 0, -1) == [job.jid])
    doomed.kill()
    redis_client.delete("test:hold")

    start_worker(redis_url, "-c", "2")
    wait_for(lambda: redis_client.lrange("test:done", 0, -1) == [job.jid], timeout=15)
    # Two starts, one finish: the killed run was repeated, nothing was lost.
    assert redis_client.lrange("test:started", 0, -1) == [job.jid, job.jid]


def test_killed_while_its_acknowledgement_is_on_the_way_the_job_runs_again(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    redis_client.set("test:hold", 1)
    sidequest.configure(redis_url)
    try:
        job = jobs.HoldJob.perform_later(1)
    finally:
        set_adapter(None)
    with TcpProxy(redis_server.port) as proxy:
        doomed = start_worker(proxy.url, "-c", "2", env=SLOW_LEASE)
        identity = _identity(redis_client)
        wait_for(lambda: redis_client.lrange("test:started", 0, -1) == [job.jid])
        (field,) = [str(name) for name in redis_client.hkeys(keys.inflight(identity))]

        def kill_and_lose_the_ack() -> None:
            doomed.kill()
            proxy.reset()  # the acknowledgement dies with the connection

        # The exchange that acknowledges the job names its in-flight field.
        proxy.when_sent(f"\r\n{field}\r\n".encode(), kill_and_lose_the_ack)
        redis_client.delete("test:hold")
        wait_for(lambda: not doomed.running(), message="the worker killed as it acknowledged")
    assert redis_client.hexists(keys.inflight(identity), field), "the ack reached Redis"

    start_worker(redis_url, "-c", "2")
    wait_for(lambda: redis_client.llen("test:done") == 2, timeout=15)
    # It finished twice: at least once, with one duplicate, which the lost ack explains.
    assert redis_client.lrange("test:done", 0, -1) == [job.jid, job.jid]
    wait_for(lambda: not redis_client.exists(keys.inflight(identity)), message="hash recovered")
