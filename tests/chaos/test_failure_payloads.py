"""A job's failure is written to Redis whatever its error looks like, and the worker
carries on. Before this held, a message naming a file whose name is not UTF-8 made the
fetcher thread die on UnicodeEncodeError: the process kept beating but ran nothing."""

from __future__ import annotations

import json

import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for


def test_failures_with_unwritable_or_unreadable_messages_retry_and_the_worker_carries_on(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    sidequest.configure(redis_url)
    try:
        undecodable = jobs.UndecodableFileJob.perform_later()
        unprintable = jobs.UnprintableErrorJob.perform_later()
        start_worker(redis_url, "-c", "2")
        wait_for(lambda: redis_client.zcard(keys.RETRY) == 2, message="both failures in retry")
        after = jobs.RecordJob.perform_bulk([[n] for n in range(5)])
        wait_for(
            lambda: sorted(redis_client.lrange("test:runs", 0, -1)) == sorted(after),
            message="the jobs enqueued after the failures",
        )
    finally:
        set_adapter(None)

    retries = {json.loads(m)["jid"]: json.loads(m) for m in redis_client.zrange(keys.RETRY, 0, -1)}
    assert retries[undecodable.jid]["error_message"] == "cannot parse report-\\udcff.csv"
    assert retries[unprintable.jid]["error_class"].endswith("UnprintableError")
    assert "could not be read" in retries[unprintable.jid]["error_message"]
    assert not redis_client.zcard(keys.DEAD)
