"""A job that kills its own process every time ends in `dead` as a poison pill after a
bounded number of recoveries, and the rest of the queue keeps flowing.

The worker is restarted whenever it dies, as supervisord does. With concurrency above
one, the pill takes the jobs running beside it down with it: they are recovered and
must run, and must not be buried in its place.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for

MAX_RECOVERIES = 2
PILLS = {"exit": (jobs.ExitsItsProcessJob, 3), "segfault": (jobs.SegfaultsJob, -11)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pill_kind", "concurrency"), [("segfault", 1), ("exit", 4), ("segfault", 4)]
)
def test_a_job_that_crashes_its_process_is_buried_after_bounded_recoveries(
    redis_url: str,
    redis_client: redis.Redis,
    start_worker: StartWorker,
    pill_kind: str,
    concurrency: int,
) -> None:
    pill_class, exit_status = PILLS[pill_kind]
    sidequest.configure(redis_url)
    try:
        before = jobs.SlowRecordJob.perform_bulk([[n, 0.05] for n in range(20)])
        pill = pill_class.perform_later()
        after = jobs.SlowRecordJob.perform_bulk([[n, 0.05] for n in range(20)])
    finally:
        set_adapter(None)
    env = {
        "SIDEQUEST_MAX_RECOVERIES": str(MAX_RECOVERIES),
        "SIDEQUEST_HEARTBEAT_INTERVAL": "0.2",
        "SIDEQUEST_HEARTBEAT_TIMEOUT": "1",
    }

    statuses = []
    worker = start_worker(redis_url, "-c", str(concurrency), env=env)
    deadline = time.monotonic() + 60
    while not redis_client.zcard(keys.DEAD):
        assert time.monotonic() < deadline, "the poison pill never reached the dead set"
        if not worker.running():
            statuses.append(worker.wait(10))
            worker = start_worker(redis_url, "-c", str(concurrency), env=env)
        time.sleep(0.02)  # a supervisor's polling loop, bounded by the deadline above

    wait_for(
        lambda: set(redis_client.lrange("test:runs", 0, -1)) >= set(before + after),
        timeout=30,
        message="every other job to run",
    )
    dead = [json.loads(entry) for entry in redis_client.zrange(keys.DEAD, 0, -1)]
    assert [entry["jid"] for entry in dead] == [pill.jid], "only the pill is buried"
    assert dead[0]["error_class"] == "sidequest.errors.PoisonPillError"
    assert f"after {MAX_RECOVERIES} recoveries" in dead[0]["error_message"]
    # The first run and MAX_RECOVERIES recoveries: bounded, and each took a process down.
    crashes = redis_client.lrange("test:crashes", 0, -1)
    assert len(crashes) == MAX_RECOVERIES + 1
    assert len({entry.split()[1] for entry in crashes}) == MAX_RECOVERIES + 1
    assert set(statuses) == {exit_status}
    assert worker.running()
    wait_for(
        lambda: (
            not redis_client.keys(keys.inflight("*"))
            or not any(redis_client.hlen(key) for key in redis_client.keys(keys.inflight("*")))
        ),
        message="no job left in flight",
    )
