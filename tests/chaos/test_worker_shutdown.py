"""A stopped worker leaves nothing behind: no process entry, owner or lease."""

from __future__ import annotations

import signal
import time

import redis

from sidequest import keys
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy


def test_a_heartbeat_in_flight_at_sigterm_does_not_bring_the_process_back(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    with TcpProxy(redis_server.port) as proxy:
        worker = start_worker(
            proxy.url,
            "-c",
            "2",
            env={"SIDEQUEST_HEARTBEAT_INTERVAL": "0.3", "SIDEQUEST_HEARTBEAT_TIMEOUT": "2"},
        )
        wait_for(lambda: redis_client.smembers(keys.PROCESSES), timeout=20, message="heartbeat")

        def term_while_the_beat_is_in_flight() -> None:
            # The heartbeat thread has just sent a beat; SIGTERM now, and let the beat
            # reach Redis 1.5 s late (a slow link, or a reordering of two connections).
            worker.signal(signal.SIGTERM)
            time.sleep(1.5)

        proxy.when_sent(b"SADD\r\n$9\r\nprocesses", term_while_the_beat_is_in_flight)
        assert worker.wait(20) == 0
        wait_for(lambda: proxy.connections() == 0, message="the late beat delivered")

    # A beat written after the process removed its entries would list it for another
    # minute, keep its owner entry until another worker recovers it, and hold a lease.
    assert {
        "processes": redis_client.smembers(keys.PROCESSES),
        "owners": redis_client.smembers(keys.OWNERS),
        "leases": redis_client.keys(keys.lease("*")),
    } == {"processes": set(), "owners": set(), "leases": []}
