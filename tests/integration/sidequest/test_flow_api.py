"""Flow control's Redis side, without workers: the api (pausing, cancelling, the flow
state), debounce.lua with explicit clocks, and the cluster metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest

import sidequest
from sidequest import api, keys, payload, scripts
from sidequest.adapter import set_adapter
from sidequest.api import cancelling, flow_state
from sidequest.metrics import ClusterCollector
from tests.integration.sidequest import flow_jobs as jobs
from tests.support.polling import wait_for

WINDOW, CAP = 5.0, 12.0


@pytest.fixture
def configured(redis_url: str) -> Iterator[str]:
    sidequest.configure(redis_url)
    yield redis_url
    set_adapter(None)


def test_pause_and_resume_write_sidekiq_pros_set_and_announce(
    redis_client: redis.Redis,
) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(keys.CONTROL_CHANNEL)
    pauses = api.QueuePauses(redis_client)

    assert pauses.pause("mailers") is True
    assert pauses.pause("mailers") is False
    assert pauses.paused() == ["mailers"] and pauses.is_paused("mailers")
    assert pauses.resume("mailers") is True
    assert pauses.resume("mailers") is False

    heard: list[str] = []

    def four_heard() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            heard.append(message["data"])
        return len(heard) == 4

    wait_for(four_heard, message="four announcements")
    assert heard == [
        "pause mailers",
        "pause mailers",
        "resume mailers",
        "resume mailers",
    ]
    pubsub.close()


@pytest.mark.parametrize("bad", ["", " ", "a b", "x\n", "q" * 201])
def test_a_queue_name_must_be_one_printable_word(redis_client: redis.Redis, bad: str) -> None:
    with pytest.raises(ValueError, match="queue name"):
        api.QueuePauses(redis_client).pause(bad)
    assert not redis_client.exists(keys.PAUSED)


def test_cancel_reports_where_the_job_was_and_marks_it(
    configured: str, redis_client: redis.Redis
) -> None:
    queued = jobs.Recorded.perform_later("q").jid
    scheduled = jobs.Recorded.perform_in(600, "s").jid
    retrying = payload.build("Failing", ["r"], queue="failing")
    redis_client.zadd(keys.RETRY, {payload.encode(retrying): time.time() + 600})

    results = {jid: api.cancel(redis_client, jid) for jid in (queued, scheduled, retrying["jid"])}
    unknown = api.cancel(redis_client, "feedfacefeedfacefeedface")

    assert [result.state for result in results.values()] == ["queued", "scheduled", "retrying"]
    assert results[queued].removed == ("queue:default",)
    assert unknown.state == "unknown" and not unknown.found
    assert "no job feedfacefeedfacefeedface is" in cancelling.describe(unknown)
    assert redis_client.llen("queue:default") == 0
    assert redis_client.zcard(keys.SCHEDULE) == redis_client.zcard(keys.RETRY) == 0
    marked = cancelling.cancelled_jids(redis_client)
    assert marked == {queued, scheduled, retrying["jid"], "feedfacefeedfacefeedface"}
    assert 0 < redis_client.ttl(keys.CANCELLED) <= keys.CANCEL_TTL_SECONDS
    assert flow_state.read(redis_client).counts["cancelled"] == 3


def test_cancel_finds_a_job_held_in_a_workers_in_flight_hash(redis_client: redis.Redis) -> None:
    job = payload.build("Recorded", ["held"])
    redis_client.sadd(keys.OWNERS, "host:1:abc")
    redis_client.hset(keys.inflight("host:1:abc"), "7:default", payload.encode(job))

    result = api.cancel(redis_client, job["jid"])

    assert result.state == "running" and result.in_workers == ("host:1:abc",)
    # Still there: the worker acknowledges it when it stops or drops it.
    assert redis_client.hlen(keys.inflight("host:1:abc")) == 1


def test_cancel_releases_the_unique_lock_of_a_removed_job(redis_client: redis.Redis) -> None:
    job = payload.build("Recorded", ["u"], extra={"unique_digest": "abc"})
    redis_client.lpush("queue:default", payload.encode(job))
    redis_client.sadd(keys.QUEUES, "default")
    redis_client.set(keys.unique_lock("abc"), job["jid"])
    redis_client.set(keys.unique_lock("other"), "someone-else")

    api.cancel(redis_client, job["jid"])

    assert not redis_client.exists(keys.unique_lock("abc"))
    assert redis_client.get(keys.unique_lock("other")) == "someone-else"


def test_expired_cancel_marks_are_trimmed_when_another_is_added(
    redis_client: redis.Redis,
) -> None:
    redis_client.zadd(keys.CANCELLED, {"old": time.time() - 1})
    api.cancel(redis_client, "new")
    assert redis_client.zrange(keys.CANCELLED, 0, -1) == ["new"]


@pytest.mark.parametrize("bad", ["", "has space", "glob*", "a" * 101, 'quote"'])
def test_a_malformed_jid_is_refused_before_anything_is_written(
    redis_client: redis.Redis, bad: str
) -> None:
    with pytest.raises(ValueError, match="invalid jid"):
        api.cancel(redis_client, bad)
    assert not redis_client.exists(keys.CANCELLED)


# -- debounce.lua ----------------------------------------------------------------------


def debounce(client: redis.Redis, now: float, value: int, key: str = "sync:42") -> list[str]:
    job = payload.build("Debounced", [value])
    reply: list[Any] = scripts.DEBOUNCE(
        client,
        [keys.debounce(key), keys.SCHEDULE, keys.FLOW_STATS],
        [repr(now), repr(WINDOW), repr(CAP), job["jid"], payload.encode(job), "test:wakeup"],
    )
    return [str(part) for part in reply]


def scheduled(client: redis.Redis) -> list[tuple[list[Any], float]]:
    return [
        (json.loads(member)["args"], score)
        for member, score in client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    ]


def test_debounce_keeps_one_pending_job_with_the_latest_arguments(
    redis_client: redis.Redis,
) -> None:
    due, replaced = debounce(redis_client, 1000.0, 1)
    assert float(due) == 1005.0 and replaced == ""
    due, replaced = debounce(redis_client, 1003.0, 2)
    assert float(due) == 1008.0 and replaced  # the first job's jid
    assert scheduled(redis_client) == [([2], 1008.0)]
    # Another key is another burst.
    debounce(redis_client, 1003.0, 9, key="sync:43")
    assert len(scheduled(redis_client)) == 2
    assert redis_client.hget(keys.FLOW_STATS, "debounced") == "1"


def test_a_steady_stream_still_runs_at_the_cap(redis_client: redis.Redis) -> None:
    # An enqueue every 2 s, within a 5 s window: without the cap it would never be due.
    for step in range(8):
        due, _ = debounce(redis_client, 1000.0 + 2 * step, step)
    assert scheduled(redis_client) == [([7], 1000.0 + CAP)]
    assert float(due) == 1000.0 + CAP


def test_once_the_pending_job_left_the_schedule_a_new_burst_starts(
    redis_client: redis.Redis,
) -> None:
    debounce(redis_client, 1000.0, 1)
    redis_client.delete(keys.SCHEDULE)  # promoted to its queue (or running) meanwhile
    due, replaced = debounce(redis_client, 1020.0, 2)
    assert float(due) == 1025.0 and replaced == ""
    ttl = redis_client.pttl(keys.debounce("sync:42"))
    assert 0 < ttl <= (CAP + 60) * 1000


def test_debounced_enqueues_through_the_job_api(configured: str, redis_client: redis.Redis) -> None:
    first = jobs.Debounced.set(debounce=30, debounce_key="k").perform_later(1)
    second = jobs.Debounced.set(debounce=30, debounce_key="k").perform_later(2)
    assert second.scheduled_at is not None and first.scheduled_at is not None
    assert second.scheduled_at >= first.scheduled_at
    assert [args for args, _ in scheduled(redis_client)] == [[2]]
    # Without a key, the same call collapses; another call does not.
    jobs.Debounced.set(debounce=30).perform_later(5)
    jobs.Debounced.set(debounce=30).perform_later(5)
    jobs.Debounced.set(debounce=30).perform_later(6)
    assert sorted(args for args, _ in scheduled(redis_client)) == [[2], [5], [6]]


# -- what the operator sees ------------------------------------------------------------


def test_the_cluster_collector_exports_paused_queues_and_the_flow_totals(
    redis_client: redis.Redis,
) -> None:
    redis_client.sadd(keys.QUEUES, "default", "mailers")
    api.QueuePauses(redis_client).pause("mailers")
    api.QueuePauses(redis_client).pause("not-yet-used")
    redis_client.hset(keys.FLOW_STATS, mapping={"cancelled": 3, "expired": 2, "debounced": 7})
    registry = CollectorRegistry()
    registry.register(ClusterCollector(redis_client))

    text = generate_latest(registry).decode()

    assert 'sidequest_queue_paused{queue="mailers"} 1.0' in text
    assert 'sidequest_queue_paused{queue="default"} 0.0' in text
    assert 'sidequest_queue_paused{queue="not-yet-used"} 1.0' in text
    assert "sidequest_cancelled_jobs_total 3.0" in text
    assert "sidequest_expired_jobs_total 2.0" in text
    assert "sidequest_debounced_jobs_total 7.0" in text
