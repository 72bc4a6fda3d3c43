"""A sentinel URL in every client: the enqueue API with and without WAIT, the CLI, the web
tier with the dashboard, and a write that reaches a demoted master (READONLY)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from sidequest.client import RedisAdapter
from sidequest.connection import connect
from sidequest.replication import EnqueueWait, ReplicationTimeoutError
from sidequest.sentinel import FollowingConnection
from tests.integration.web.conftest import MakeApp, make_app  # noqa: F401 - a fixture
from tests.support.polling import wait_for
from tests.support.sentinel_cluster import SentinelCluster

ROOT = Path(__file__).resolve().parents[2]


def _job(jid: str, queue: str = "sentinel") -> dict[str, object]:
    return {"class": "SomeJob", "args": [], "jid": jid, "queue": queue, "retry": True}


def _replica_holds(cluster: SentinelCluster, key: str, value_part: str) -> int:
    holding = 0
    for server in cluster.servers[1:]:
        entries = server.client().lrange(key, 0, -1)
        holding += any(value_part in entry for entry in entries)
    return holding


def test_an_enqueue_with_wait_returns_once_a_replica_holds_the_job(
    shared_cluster: SentinelCluster,
) -> None:
    adapter = RedisAdapter(connect(shared_cluster.url), EnqueueWait(2, 2.0))
    adapter.push(_job("a" * 24))
    # WAIT 2 returned: both replicas have the job already, no polling needed.
    assert _replica_holds(shared_cluster, "queue:sentinel", "a" * 24) == 2
    adapter.push_bulk([_job("b" * 24), _job("c" * 24)])
    assert _replica_holds(shared_cluster, "queue:sentinel", "c" * 24) == 2


def test_more_replicas_than_exist_fail_after_the_timeout_with_the_job_on_the_master(
    shared_cluster: SentinelCluster,
) -> None:
    adapter = RedisAdapter(connect(shared_cluster.url), EnqueueWait(3, 0.2))
    started = time.monotonic()
    with pytest.raises(ReplicationTimeoutError, match="only 2 of 3 replicas"):
        adapter.push(_job("d" * 24))
    assert time.monotonic() - started >= 0.2
    assert any(
        "d" * 24 in entry
        for entry in shared_cluster.master.client().lrange("queue:sentinel", 0, -1)
    )
    with pytest.raises(ReplicationTimeoutError):
        adapter.push(_job("e" * 24), at=time.time() + 3600)


def test_a_unique_enqueue_waits_too_and_reloads_a_forgotten_script(
    shared_cluster: SentinelCluster,
) -> None:
    from sidequest.adapter import UniqueSpec

    client = connect(shared_cluster.url)
    client.script_flush()
    adapter = RedisAdapter(client, EnqueueWait(1, 2.0))
    assert adapter.push(_job("f" * 24), unique=UniqueSpec("digest-f", 60)).enqueued
    assert _replica_holds(shared_cluster, "queue:sentinel", "f" * 24) >= 1
    assert not adapter.push(_job("g" * 24), unique=UniqueSpec("digest-f", 60)).enqueued


def test_the_cli_reads_through_a_sentinel_url(shared_cluster: SentinelCluster) -> None:
    RedisAdapter(connect(shared_cluster.url), EnqueueWait()).push(_job("h" * 24, "cli"))
    result = subprocess.run(
        [sys.executable, "-m", "sidequest", "stats", "--json"],
        env={**os.environ, "REDIS_URL": shared_cluster.url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "cli" in json.loads(result.stdout)["queues"]


def test_the_web_tier_and_its_dashboard_on_a_sentinel_url(
    shared_cluster: SentinelCluster,
    make_app: MakeApp,  # noqa: F811
) -> None:
    app = make_app(
        shared_cluster.url, SIDEQUEST_WEB_USERNAME="admin", SIDEQUEST_WEB_PASSWORD="s3cret"
    )
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    response = client.post(
        "/api/reports", json={"kind": "sales_by_product", "from": "2024-01-01", "to": "2024-01-31"}
    )
    assert response.status_code == 202, response.get_json()
    jid = response.get_json()["jid"]
    # The report and its job are written in one transaction; the web tier's outbox relay
    # pushes the job to the master the Sentinel URL resolves, a few ms later.
    master = shared_cluster.master.client()
    wait_for(
        lambda: any(jid in entry for entry in master.lrange("queue:reports", 0, -1)),
        timeout=15,
        message="the report job relayed to the master",
    )
    login = base64.b64encode(b"admin:s3cret").decode()
    page = client.get("/sidequest/queues", headers={"Authorization": f"Basic {login}"})
    assert page.status_code == 200 and b"reports" in page.data
    # The dashboard's Redis panel names the server it reached: the master, followed by
    # the cluster's two replicas.
    home = client.get("/sidequest/", headers={"Authorization": f"Basic {login}"})
    assert home.status_code == 200
    assert b"<dd>master, 2 replicas</dd>" in home.data


def test_a_write_that_reaches_a_demoted_master_goes_to_the_new_one(
    cluster: SentinelCluster,
) -> None:
    # The client (one retry) and the worker's kind of client (no retry: its loops retry).
    client = connect(cluster.url)
    bare = connect(cluster.url, retries=0)
    client.set("before", 1)
    bare.set("before", 1)
    old = cluster.master
    # A graceful failover: the old master stays up as a replica. Sentinel closes the
    # clients' connections as it demotes it, and redis-py reconnects an idle pooled
    # connection that was closed: both clients simply follow.
    redis.Redis(port=cluster.sentinels[0].port).sentinel_failover("sidequest")
    wait_for(lambda: cluster.role(old) == "slave", timeout=20, message="the demotion")
    new = cluster.wait_for_failover()
    client.set("after", 2)
    bare.set("after", 2)
    assert new.client().get("after") == "2"

    # A connection that still reaches the demoted master (made before the sentinels
    # moved, or kept across a short partition) gets READONLY for a write: it is closed
    # and the next connection asks the sentinels again.
    for each in (client, bare):
        pool = each.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        connection = pool.get_connection()
        assert isinstance(connection, FollowingConnection)
        connection.disconnect()  # type: ignore[no-untyped-call]
        connection.connect_to(("127.0.0.1", old.port))
        pool.proxy.master_address = ("127.0.0.1", old.port)
        pool.release(connection)
    client.set("stale", 1)  # READONLY, reconnect, the new master: within its one retry
    with pytest.raises(redis.ConnectionError, match="previous master is now a slave"):
        bare.set("stale", 2)
    bare.set("stale", 2)
    assert new.client().get("stale") == "2"

    # An enqueue's LPUSH is repeated only after an error proving it did not run
    # (connection.run_at_most_once): READONLY is one, so it too goes to the new master.
    pool = client.connection_pool
    connection = pool.get_connection()
    assert isinstance(connection, FollowingConnection)
    connection.disconnect()  # type: ignore[no-untyped-call]
    connection.connect_to(("127.0.0.1", old.port))
    pool.release(connection)
    RedisAdapter(client, EnqueueWait()).push(_job("after-readonly"))
    assert any("after-readonly" in entry for entry in new.client().lrange("queue:sentinel", 0, -1))
