"""Whatever sits in Redis, sidequest.api reads it without raising.

The dashboard, the CLI and the web tier's inspection pages are built on these
readers: one bad entry must not turn a page, or `sidequest stats`, into a 500.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidequest import api, keys
from tests.chaos.fuzz_entries import NASTY_TEXTS, encode, entries, json_values

PLACES = ("queue", "schedule", "retry", "dead")

Entry = tuple[bytes | dict[str, Any], bool]


def _raw(entry: Entry) -> bytes:
    value, is_object = entry
    return encode(value) if is_object else value  # type: ignore[return-value]


def _read_record(record: api.JobRecord) -> None:
    now = time.time()
    for name in (
        "jid",
        "klass",
        "display_class",
        "args",
        "display_args",
        "queue",
        "created_at",
        "enqueued_at",
        "failed_at",
        "retried_at",
        "retry_count",
        "error_class",
        "error_message",
        "backtrace",
    ):
        # Pages and terminals write what readers return as UTF-8: it must encode.
        str(getattr(record, name)).encode()
    record.latency(now)
    record.matches("job")
    if isinstance(record, api.SortedEntry):
        entry_id = record.id
        assert api.EntryId.parse(str(entry_id)) == entry_id or entry_id.score != entry_id.score


def read_everything(client: redis.Redis) -> None:
    """Every reader of sidequest.api over whatever is there."""
    stats = api.Stats(client)
    stats.snapshot().as_dict()
    stats.history(7)
    api.queue_summaries(client)
    for queue in api.Queue.all(client):
        queue.size()
        queue.latency()
        for record in queue.page(0, 100):
            _read_record(record)
            api.find_in_queue(client, queue.name, record.jid, 0)
        queue.find("no-such-jid")
        api.search_queue(client, queue.name, "job", limit=10, max_scanned=1000)
    for sorted_set in (api.ScheduledSet(client), api.RetrySet(client), api.DeadSet(client)):
        sorted_set.size()
        for entry in sorted_set.each():
            _read_record(entry)
            sorted_set.fetch(entry.id)
            sorted_set.find_job(entry.jid)
        api.search_sorted_set(client, sorted_set.name, "a", limit=10, max_scanned=1000)
    processes = api.ProcessSet(client)
    for process in processes.all():
        for name in (
            "hostname",
            "pid",
            "tag",
            "labels",
            "queues",
            "weights",
            "started_at",
            "version",
        ):
            getattr(process, name)
    for work in processes.work():
        _read_record(work.job)
    for window in ("hour", "day"):
        for metrics in api.JobMetrics(client).by_class(window):
            _ = (metrics.mean_ms, metrics.p95_ms, metrics.failure_rate)


def _put(client: redis.Redis, place: str, raw: bytes) -> None:
    now = time.time()
    if place == "queue":
        client.sadd(keys.QUEUES, "fuzz")
        client.lpush(keys.queue("fuzz"), raw)
    else:
        client.zadd(place, {raw: now})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.tuples(st.sampled_from(PLACES), entries), min_size=1, max_size=6))
def test_readers_survive_any_entry_in_queues_and_sets(
    redis_url: str, batch: list[tuple[str, Entry]]
) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        for place, entry in batch:
            _put(client, place, _raw(entry))
        read_everything(client)


process_fields = st.dictionaries(
    st.sampled_from(("info", "busy", "beat", "quiet", "rss", "rtt_us", "concurrency")),
    st.one_of(json_values.map(json.dumps), st.text(max_size=20), st.sampled_from(NASTY_TEXTS)),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=process_fields,
    work=st.lists(
        st.one_of(
            st.binary(max_size=40),
            json_values.map(encode),
            st.sampled_from(NASTY_TEXTS).map(str.encode),
        ),
        max_size=3,
    ),
    metrics=st.dictionaries(
        st.text(max_size=20), st.one_of(st.text(max_size=10), st.binary(max_size=10)), max_size=4
    ),
    counter=st.one_of(st.binary(max_size=12), st.integers().map(str)),
)
def test_readers_survive_any_process_heartbeat_counter_or_metrics(
    redis_url: str,
    fields: dict[str, str],
    work: list[bytes],
    metrics: dict[str, str | bytes],
    counter: bytes | str,
) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        identity = "host:1:abc"
        client.sadd(keys.PROCESSES, identity, "ghost:2:def")
        if fields:
            client.hset(keys.process(identity), mapping=fields)  # type: ignore[arg-type]
        for thread, value in enumerate(work):
            client.hset(keys.work(identity), str(thread), value)
        for stat in ("processed", "failed"):
            client.set(keys.STAT_PROCESSED if stat == "processed" else keys.STAT_FAILED, counter)
            client.set(keys.stat_daily(stat), counter)
        buckets = api.JobMetrics(client)
        for key in buckets.bucket_keys("hour")[:1] + buckets.bucket_keys("day")[:1]:
            if metrics:
                client.hset(key, mapping=metrics)  # type: ignore[arg-type]
        read_everything(client)
