"""A live worker's in-flight hash can gain entries the worker never received; they must run.

Two real causes, both seen in the chaos run:
- Redis comes back from a crash without its last second of writes (AOF everysec): an
  acknowledgement is undone and the job reappears in the in-flight hash of a worker
  that already finished it. redis-py reconnects silently, so the worker saw no error.
- a fetch sent just before a network stall runs on the server after the worker gave
  up waiting for the reply.
Nothing recovers the entries of a live process, so the worker itself must notice.
"""

from __future__ import annotations

import json
import time

import redis

from sidequest import keys, payload
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for


def test_a_job_that_appears_in_a_live_workers_inflight_hash_runs(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    start_worker(redis_url, "-c", "2")
    identity = wait_for(lambda: redis_client.smembers(keys.PROCESSES), message="heartbeat").pop()
    job = payload.build("RecordJob", [1])
    job["enqueued_at"] = time.time()
    # The state a lost acknowledgement leaves: the entry is back, nobody holds it.
    redis_client.hset(keys.inflight(identity), "987654:default", json.dumps(job))

    # FAST_HEARTBEAT's heartbeat timeout is 1.5 s: the worker looks at least that often.
    wait_for(
        lambda: redis_client.lrange("test:runs", 0, -1) == [job["jid"]],
        timeout=10,
        message="the stray job to run",
    )
    wait_for(
        lambda: not redis_client.hlen(keys.inflight(identity)),
        message="the in-flight hash to empty",
    )


def test_a_run_marker_left_in_a_live_workers_hash_goes(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    # The state the chaos run met: a worker back from a network stall ran a job that had
    # been recovered elsewhere, noted the run, lost Redis for a moment as it finished
    # (so the note stayed) and had its outcome refused. No job, just the marker.
    start_worker(redis_url, "-c", "2")
    identity = wait_for(lambda: redis_client.smembers(keys.PROCESSES), message="heartbeat").pop()
    redis_client.hset(keys.inflight(identity), "started:987654:default", "1")

    wait_for(
        lambda: not redis_client.exists(keys.inflight(identity)),
        timeout=10,
        message="the marker to go",
    )
