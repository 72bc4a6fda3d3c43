"""Recovery leaves nothing of a dead process behind.

A process notes `started:<field>` in its in-flight hash while it runs a job recovered
before. A process that was frozen (or cut off) past its heartbeat timeout comes back
holding jobs that were already recovered elsewhere, and notes their runs all the same:
the marker now names a job that is no longer in the hash. If that process then dies,
its hash holds only such markers, and recovery must still empty it and drop the owner
entry, or both stay in Redis forever.
"""

from __future__ import annotations

import redis

from sidequest import keys
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for


def test_recovery_clears_run_markers_of_jobs_recovered_before(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    ghost = "gone-host:4242:0123456789ab"
    redis_client.hset(keys.inflight(ghost), mapping={"started:7:default": "1"})
    redis_client.sadd(keys.OWNERS, ghost)
    start_worker(redis_url, "-c", "2")

    wait_for(
        lambda: not redis_client.sismember(keys.OWNERS, ghost),
        timeout=10,
        message="the dead process's owner entry to go",
    )
    assert not redis_client.exists(keys.inflight(ghost))


def test_recovery_keeps_the_run_marker_of_a_job_it_recovers_with_it(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    ghost = "gone-host:4243:0123456789ab"
    job = '{"class":"RecordJob","args":[1],"jid":"abc","queue":"default","recoveries":1}'
    redis_client.hset(keys.inflight(ghost), mapping={"3:default": job, "started:3:default": "1"})
    redis_client.sadd(keys.OWNERS, ghost)
    redis_client.hset(keys.RECOVERIES, "abc", 1)
    start_worker(redis_url, "-c", "2")

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == ["abc"], timeout=10)
    assert not redis_client.exists(keys.inflight(ghost))
    # It was running when its process died: charged a second recovery.
    assert redis_client.hget(keys.RECOVERIES, "abc") == "2"
