"""sidequest.api over real Redis data: stats, queues, the sorted sets and processes.

The data is written as Sidekiq lays it out (raw keys), or by a real worker process
for the process tests, and read back through the API as the dashboard and CLI do.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis

from sidequest import keys
from sidequest.api import (
    DeadSet,
    EntryId,
    ProcessSet,
    Queue,
    RetrySet,
    ScheduledSet,
    Stats,
    find_in_queue,
    queue_summaries,
    search_queue,
    search_sorted_set,
)
from sidequest.api.sorted_sets import SortedSet
from sidequest.connection import connect
from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client as the API is given one in production: bytes replies."""
    connection = connect(redis_url)
    yield connection
    connection.close()


def job(jid: str, queue: str = "default", **extra: Any) -> str:
    return json.dumps(
        {
            "class": "ReportJob",
            "args": [jid],
            "retry": True,
            "queue": queue,
            "jid": jid,
            "created_at": 1_700_000_000.0,
            **extra,
        }
    )


def failed(jid: str, retry_count: int = 3, queue: str = "default") -> str:
    return job(
        jid,
        queue,
        retry_count=retry_count,
        error_class="ValueError",
        error_message="boom",
        failed_at=1_700_000_100.5,
    )


# -- Stats -----------------------------------------------------------------------------


def test_snapshot_reports_every_headline_number(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    now = time.time()
    redis_client.set(keys.STAT_PROCESSED, 1234)
    redis_client.set(keys.STAT_FAILED, 56)
    redis_client.sadd(keys.QUEUES, "default", "mailers", "empty")
    redis_client.lpush(keys.queue("default"), job("old", enqueued_at=now - 30), job("new"))
    redis_client.lpush(keys.queue("mailers"), job("m1", "mailers"))
    redis_client.zadd(keys.SCHEDULE, {job("s1"): now + 60, job("s2"): now + 120})
    redis_client.zadd(keys.RETRY, {failed("r1"): now + 10})
    redis_client.zadd(keys.DEAD, {failed("d1"): now, failed("d2"): now, failed("d3"): now})
    redis_client.sadd(keys.PROCESSES, "host:1:a", "host:2:b", "host:3:gone")
    redis_client.hset("host:1:a", mapping={"busy": 2, "beat": now})
    redis_client.hset("host:2:b", mapping={"busy": 3, "beat": now})

    snapshot = Stats(client).snapshot()

    assert snapshot.processed == 1234
    assert snapshot.failed == 56
    assert snapshot.enqueued == 3
    assert snapshot.scheduled == 2
    assert snapshot.retries == 1
    assert snapshot.dead == 3
    # host:3:gone is listed but its heartbeat hash expired: neither alive nor busy.
    assert snapshot.processes == 2
    assert snapshot.busy == 5
    assert snapshot.queues == {"default": 2, "empty": 0, "mailers": 1}
    assert 30 <= snapshot.default_latency < 35
    assert snapshot.as_dict()["queues"] == snapshot.queues


def test_snapshot_of_an_empty_redis_is_all_zero(client: redis.Redis) -> None:
    snapshot = Stats(client).snapshot()

    assert snapshot.as_dict() == {
        "processed": 0,
        "failed": 0,
        "enqueued": 0,
        "scheduled": 0,
        "retries": 0,
        "dead": 0,
        "processes": 0,
        "busy": 0,
        "default_latency": 0.0,
        "queues": {},
    }


def test_history_reads_the_daily_keys_newest_first(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    today = datetime.now(UTC)
    yesterday = today - timedelta(days=1)
    redis_client.set(keys.stat_daily("processed", today), 10)
    redis_client.set(keys.stat_daily("failed", today), 2)
    redis_client.set(keys.stat_daily("processed", yesterday), 7)

    history = Stats(client).history(3)

    assert history == [
        (today.date(), 10, 2),
        (yesterday.date(), 7, 0),
        ((today - timedelta(days=2)).date(), 0, 0),
    ]


def test_history_ends_on_the_day_given(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed:2024-02-29", 5)
    redis_client.set("stat:failed:2024-03-01", 1)

    history = Stats(client).history(2, until=date(2024, 3, 1))

    assert history == [(date(2024, 3, 1), 0, 1), (date(2024, 2, 29), 5, 0)]


@pytest.mark.parametrize(("asked", "days"), [(-5, 1), (0, 1), (1, 1), (180, 180), (10_000, 180)])
def test_history_is_bounded_to_1_to_180_days(client: redis.Redis, asked: int, days: int) -> None:
    assert len(Stats(client).history(asked)) == days


def test_reset_zeroes_the_totals_and_keeps_the_history(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.STAT_PROCESSED, 9)
    redis_client.set(keys.STAT_FAILED, 4)
    redis_client.set(keys.stat_daily("processed"), 9)

    Stats(client).reset("failed")
    assert (redis_client.get(keys.STAT_PROCESSED), redis_client.get(keys.STAT_FAILED)) == ("9", "0")

    Stats(client).reset()
    assert redis_client.get(keys.STAT_PROCESSED) == "0"
    assert redis_client.get(keys.stat_daily("processed")) == "9"


# -- Queue -----------------------------------------------------------------------------


def test_a_queue_reports_its_size_and_the_latency_of_its_oldest_job(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    now = time.time()
    redis_client.lpush(keys.queue("default"), job("oldest", enqueued_at=now - 12.5), job("newer"))
    queue = Queue(client, "default")

    assert queue.size() == 2
    assert queue.latency(now) == pytest.approx(12.5)
    assert 12.5 <= queue.latency() < 15
    assert Queue(client, "missing").latency() == 0.0
    assert Queue(client, "missing").size() == 0


def test_latency_reads_sidekiq_8_integer_milliseconds(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    now = time.time()
    redis_client.lpush(keys.queue("default"), job("ms", enqueued_at=int((now - 7) * 1000)))

    assert Queue(client, "default").latency(now) == pytest.approx(7, abs=0.01)


def test_latency_falls_back_to_created_at(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.lpush(keys.queue("default"), job("no-enqueued-at"))
    assert Queue(client, "default").latency(1_700_000_003.0) == pytest.approx(3.0)


def test_all_lists_the_known_queues_by_name(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.sadd(keys.QUEUES, "mailers", "default", "critical")
    assert [queue.name for queue in Queue.all(client)] == ["critical", "default", "mailers"]


def test_a_queue_page_lists_the_newest_first(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    for n in range(5):
        redis_client.lpush(keys.queue("default"), job(f"j{n}"))
    queue = Queue(client, "default")

    assert [record.jid for record in queue.page(0, 2)] == ["j4", "j3"]
    assert [record.jid for record in queue.page(2, 10)] == ["j2", "j1", "j0"]
    assert queue.page(0, 0) == []
    record = queue.page(4, 1)[0]
    assert (record.klass, record.args, record.queue, record.created_at) == (
        "ReportJob",
        ["j0"],
        "default",
        1_700_000_000.0,
    )


def test_find_and_delete_one_job_of_a_queue(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.lpush(keys.queue("default"), *(job(f"j{n}") for n in range(1200)))
    queue = Queue(client, "default")

    found = queue.find("j3")  # deep in the list: found past the first page of 500
    assert found is not None and found.jid == "j3"
    assert queue.find("nope") is None

    assert queue.delete(found)
    assert not queue.delete(found)
    assert queue.size() == 1199
    assert queue.find("j3") is None


def test_clear_removes_the_queue_and_its_name(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.sadd(keys.QUEUES, "default", "mailers")
    redis_client.lpush(keys.queue("default"), job("a"), job("b"))

    Queue(client, "default").clear()

    assert not redis_client.exists(keys.queue("default"))
    assert redis_client.smembers(keys.QUEUES) == {"mailers"}


def test_a_malformed_queue_entry_is_readable_and_deletable(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.lpush(keys.queue("default"), job("good"), "not json {", "[1, 2]")
    queue = Queue(client, "default")

    array, garbage, good = queue.page(0, 3)

    assert garbage.parse_error is not None and "not valid JSON" in garbage.parse_error
    assert (garbage.item, garbage.jid, garbage.display_class) == ({}, "", "(malformed)")
    assert garbage.display_args == ["not json {"]
    assert garbage.queue == "default"
    assert array.parse_error is not None and "not an object" in array.parse_error
    assert good.parse_error is None
    assert queue.delete(garbage) and queue.delete(array)
    assert [record.jid for record in queue.page(0, 10)] == ["good"]


# -- scheduled, retry and dead sets ----------------------------------------------------


def test_retry_decrements_retry_count_and_enqueues_with_a_fresh_enqueued_at(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.RETRY, {failed("a", retry_count=3, queue="mailers"): time.time() + 60})
    retries = RetrySet(client)
    [entry] = retries.page(0, 10)
    before = time.time()

    assert retries.retry(entry)

    assert retries.size() == 0
    assert redis_client.smembers(keys.QUEUES) == {"mailers"}
    [raw] = redis_client.lrange(keys.queue("mailers"), 0, -1)
    queued = json.loads(raw)
    assert queued["retry_count"] == 2
    assert before <= queued["enqueued_at"] <= time.time()
    assert queued["error_class"] == "ValueError"  # the history stays, as in Sidekiq
    assert not retries.retry(entry)  # already moved: not enqueued twice
    assert redis_client.llen(keys.queue("mailers")) == 1


def test_enqueue_now_keeps_the_retry_count(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.zadd(keys.SCHEDULE, {job("s", "later"): time.time() + 600})
    scheduled = ScheduledSet(client)
    [entry] = scheduled.page(0, 1)

    assert scheduled.enqueue_now(entry)

    [raw] = redis_client.lrange(keys.queue("later"), 0, -1)
    queued = json.loads(raw)
    assert "retry_count" not in queued
    assert isinstance(queued["enqueued_at"], float)
    assert scheduled.size() == 0


def test_kill_moves_an_entry_to_dead_with_error_fields(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.SCHEDULE, {job("s"): time.time() + 600})
    redis_client.zadd(keys.RETRY, {failed("r"): time.time() + 600})
    before = time.time()

    [scheduled_entry] = ScheduledSet(client).page(0, 1)
    [retry_entry] = RetrySet(client).page(0, 1)
    assert ScheduledSet(client).kill(scheduled_entry, "no longer wanted")
    assert RetrySet(client).kill(retry_entry)
    assert not RetrySet(client).kill(retry_entry)

    assert not redis_client.exists(keys.SCHEDULE, keys.RETRY)
    dead = {entry.jid: entry for entry in DeadSet(client).page(0, 10)}
    assert set(dead) == {"s", "r"}
    assert dead["s"].error_class == "sidequest.Killed"
    assert dead["s"].error_message == "no longer wanted"
    assert dead["r"].error_class == "ValueError"  # its own error is kept
    assert all(before <= entry.score <= time.time() for entry in dead.values())


def test_delete_removes_one_entry(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.zadd(keys.RETRY, {failed("a"): 1.0, failed("b"): 2.0})
    retries = RetrySet(client)
    [first, _] = retries.page(0, 10)

    assert retries.delete(first)
    assert not retries.delete(first)
    assert [entry.jid for entry in retries.page(0, 10)] == ["b"]


def test_fetch_finds_an_entry_by_its_id_string(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    score = 1_700_000_123.456789
    redis_client.zadd(keys.RETRY, {failed("a"): score, failed("b"): score, failed("c"): 5.0})
    retries = RetrySet(client)
    entry = retries.find_job("b")
    assert entry is not None

    text = str(entry.id)
    assert text == f"{score!r}|b"
    parsed = EntryId.parse(text)
    assert parsed == EntryId(score, "b")
    fetched = retries.fetch(parsed)
    assert fetched is not None and fetched.jid == "b" and fetched.score == score
    assert retries.fetch(EntryId(score, "zzz")) is None
    assert retries.fetch(EntryId(score + 1, "b")) is None


@pytest.mark.parametrize("value", ["no-separator", "abc|jid", "inf|jid", "nan|jid"])
def test_an_entry_id_that_is_not_score_and_jid_is_refused(value: str) -> None:
    with pytest.raises(ValueError):  # float()'s message or our own
        EntryId.parse(value)


def test_find_job_scans_the_set_for_a_jid(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.zadd(keys.DEAD, {failed(f"j{n}"): n for n in range(3000)})
    redis_client.zadd(keys.DEAD, {failed("a*b"): 1.0, failed("aXb"): 2.0})
    dead = DeadSet(client)

    found = dead.find_job("j2500")
    assert found is not None and found.score == 2500.0
    assert dead.find_job("missing") is None
    star = dead.find_job("a*b")  # glob characters are matched literally
    assert star is not None and star.jid == "a*b"


def test_dead_set_pages_are_newest_first(client: redis.Redis, redis_client: redis.Redis) -> None:
    redis_client.zadd(keys.DEAD, {failed(f"d{n}"): float(n) for n in range(5)})
    dead = DeadSet(client)

    assert [entry.jid for entry in dead.page(0, 2)] == ["d4", "d3"]
    assert [entry.jid for entry in dead.page(2, 5)] == ["d2", "d1", "d0"]
    assert [entry.jid for entry in dead.page(0, 2, newest_first=False)] == ["d0", "d1"]
    assert [entry.jid for entry in RetrySet(client).page(0, 2)] == []


def test_each_walks_every_entry_lowest_score_first(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.RETRY, {failed(f"r{n}"): float(n) for n in range(5)})
    assert [entry.jid for entry in RetrySet(client).each(batch=2)] == [f"r{n}" for n in range(5)]


def seed_retries(redis_client: redis.Redis, count: int) -> None:
    redis_client.zadd(
        keys.RETRY, {failed(f"r{n}", retry_count=5): time.time() + n for n in range(count)}
    )
    redis_client.zadd(keys.RETRY, {"not json at all": time.time()})


def queued_jobs(redis_client: redis.Redis, queue: str = "default") -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in redis_client.lrange(keys.queue(queue), 0, -1)]


def test_apply_to_all_retry_enqueues_every_job_as_a_manual_retry(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    seed_retries(redis_client, 1200)

    assert RetrySet(client).apply_to_all("retry") == 1200

    assert not redis_client.exists(keys.RETRY)  # the malformed member is dropped
    queued = queued_jobs(redis_client)
    assert len(queued) == 1200
    assert {job["retry_count"] for job in queued} == {4}


def test_apply_to_all_enqueue_keeps_the_retry_counts(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    seed_retries(redis_client, 3)

    assert RetrySet(client).apply_to_all("enqueue") == 3

    assert {job["retry_count"] for job in queued_jobs(redis_client)} == {5}
    assert not redis_client.exists(keys.RETRY)


def test_apply_to_all_kill_buries_every_entry(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    seed_retries(redis_client, 3)

    assert RetrySet(client).apply_to_all("kill") == 4

    assert not redis_client.exists(keys.RETRY)
    dead = DeadSet(client).page(0, 10)
    assert sorted(entry.jid for entry in dead) == ["", "r0", "r1", "r2"]
    [malformed] = [entry for entry in dead if not entry.jid]
    assert malformed.klass == "(malformed)"
    assert malformed.args == ["not json at all"]


def test_apply_to_all_delete_clears_the_set(client: redis.Redis, redis_client: redis.Redis) -> None:
    seed_retries(redis_client, 3)

    assert RetrySet(client).apply_to_all("delete") == 4

    assert not redis_client.exists(keys.RETRY)
    assert not redis_client.exists(keys.queue("default"))


def test_apply_to_all_retry_on_the_dead_set_revives_every_job(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.DEAD, {failed(f"d{n}", retry_count=25): n for n in range(3)})

    assert DeadSet(client).apply_to_all("retry") == 3

    assert {job["retry_count"] for job in queued_jobs(redis_client)} == {24}
    assert DeadSet(client).size() == 0


@pytest.mark.timeout(10)
def test_apply_to_all_kill_on_the_dead_set_is_refused_instead_of_looping_forever(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.DEAD, {failed(f"d{n}"): n for n in range(3)})

    with pytest.raises(ValueError, match="dead"):
        DeadSet(client).apply_to_all("kill")

    assert DeadSet(client).size() == 3


@pytest.mark.parametrize("action", ["", "retyr", "Retry", "kill_all"])
def test_apply_to_all_refuses_an_unknown_action_and_moves_nothing(
    client: redis.Redis, redis_client: redis.Redis, action: str
) -> None:
    seed_retries(redis_client, 2)

    with pytest.raises(ValueError, match="action"):
        RetrySet(client).apply_to_all(action)

    assert redis_client.zcard(keys.RETRY) == 3
    assert not redis_client.exists(keys.queue("default"), keys.DEAD)


def test_a_malformed_member_is_a_readable_and_deletable_record(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.zadd(keys.DEAD, {"{truncated": 2.0, failed("ok"): 1.0})
    dead = DeadSet(client)

    malformed, good = dead.page(0, 10)

    assert good.jid == "ok"
    assert malformed.parse_error is not None
    assert (malformed.jid, malformed.display_class) == ("", "(malformed)")
    assert malformed.display_args == ["{truncated"]
    assert malformed.score == 2.0
    assert not dead.enqueue_now(malformed)  # nothing to enqueue
    assert dead.delete(malformed)
    assert [entry.jid for entry in dead.page(0, 10)] == ["ok"]


@pytest.mark.parametrize(
    ("kind", "key"),
    [(ScheduledSet, keys.SCHEDULE), (RetrySet, keys.RETRY), (DeadSet, keys.DEAD)],
)
def test_each_set_reads_its_own_key(
    client: redis.Redis,
    redis_client: redis.Redis,
    kind: Callable[[redis.Redis], SortedSet],
    key: str,
) -> None:
    redis_client.zadd(key, {failed("mine"): 1.0})
    sorted_set = kind(client)
    assert sorted_set.name == key
    assert [entry.jid for entry in sorted_set.page(0, 5)] == ["mine"]
    assert sorted_set.clear() == 1
    assert not redis_client.exists(key)


# -- search ----------------------------------------------------------------------------


def classed(jid: str, job_class: str, *args: Any) -> str:
    return json.dumps({"class": job_class, "args": list(args), "jid": jid, "queue": "default"})


@pytest.fixture
def mixed_retries(redis_client: redis.Redis) -> None:
    entries = {classed(f"r{n}", "MailJob" if n % 3 == 0 else "ReportJob", n): n for n in range(10)}
    redis_client.zadd(keys.RETRY, entries)  # MailJob: r0, r3, r6, r9


@pytest.mark.usefixtures("mixed_retries")
def test_search_finds_entries_by_class_case_insensitively(client: redis.Redis) -> None:
    found, cut_short = RetrySet(client).search("mailjob", limit=10, max_scanned=100)
    assert [entry.jid for entry in found] == ["r0", "r3", "r6", "r9"]
    assert not cut_short

    found, cut_short = RetrySet(client).search("MailJob", limit=2, max_scanned=100)
    assert [entry.jid for entry in found] == ["r0", "r3"]
    assert cut_short

    found, cut_short = RetrySet(client).search("mailjob", limit=10, max_scanned=5)
    assert [entry.jid for entry in found] == ["r0", "r3"]
    assert cut_short


@pytest.mark.usefixtures("mixed_retries")
def test_search_sorted_set_scores_matches_and_reports_completeness(client: redis.Redis) -> None:
    result = search_sorted_set(client, keys.RETRY, "MAILJOB", limit=10, max_scanned=100)
    assert [(entry.jid, entry.score) for entry in result.matches] == [
        ("r0", 0.0),
        ("r3", 3.0),
        ("r6", 6.0),
        ("r9", 9.0),
    ]
    assert (result.scanned, result.complete) == (10, True)

    newest = search_sorted_set(
        client, keys.RETRY, "mailjob", limit=2, max_scanned=100, newest_first=True
    )
    assert [entry.jid for entry in newest.matches] == ["r9", "r6"]
    assert not newest.complete

    bounded = search_sorted_set(client, keys.RETRY, "mailjob", limit=10, max_scanned=4)
    assert [entry.jid for entry in bounded.matches] == ["r0", "r3"]
    assert (bounded.scanned, bounded.complete) == (4, False)

    with pytest.raises(ValueError, match="empty"):
        search_sorted_set(client, keys.RETRY, "  ", limit=10, max_scanned=10)


def test_search_queue_and_find_in_queue(client: redis.Redis, redis_client: redis.Redis) -> None:
    for n in range(6):
        redis_client.lpush(keys.queue("default"), classed(f"q{n}", "ReportJob", f"order-{n}"))

    result = search_queue(client, "default", "ORDER-4", limit=10, max_scanned=100)
    assert [record.jid for record in result.matches] == ["q4"]
    assert result.complete
    newest_first = search_queue(client, "default", "reportjob", limit=3, max_scanned=100)
    assert [record.jid for record in newest_first.matches] == ["q5", "q4", "q3"]

    found = find_in_queue(client, "default", "q1", near=4)
    assert found is not None and found.args == ["order-1"]
    assert find_in_queue(client, "default", "nope", near=0) is None


def test_queue_summaries_give_every_queue_its_size_and_latency(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    now = time.time()
    redis_client.sadd(keys.QUEUES, "b", "a")
    redis_client.lpush(keys.queue("a"), job("a1", "a", enqueued_at=now - 4), job("a2", "a"))

    summaries = queue_summaries(client, now)

    assert [(summary.name, summary.size) for summary in summaries] == [("a", 2), ("b", 0)]
    assert summaries[0].latency == pytest.approx(4)
    assert summaries[1].latency == 0.0


# -- processes -------------------------------------------------------------------------


def running_identity(redis_client: redis.Redis) -> str:
    [identity] = wait_for(lambda: redis_client.smembers(keys.PROCESSES), message="a heartbeat")
    return str(identity)


def test_process_set_reads_a_real_workers_heartbeat(
    redis_url: str, client: redis.Redis, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(redis_url, "-c", "3", "-q", "default", "-q", "mailers", "-g", "blue")
    identity = running_identity(redis_client)

    [process] = ProcessSet(client).all()

    assert process.identity == identity
    assert process.pid == worker.pid
    assert identity.startswith(f"{process.hostname}:{worker.pid}:")
    assert process.concurrency == 3
    assert process.queues == ["default", "mailers"]
    assert process.tag == "blue"
    assert process.busy == 0
    assert process.quiet is False
    assert abs(process.beat - time.time()) < 5
    assert process.rss_kb > 0
    assert process.started_at is not None and process.started_at <= time.time()
    got = ProcessSet(client).get(identity)
    assert got is not None and got.identity == identity and got.pid == worker.pid
    assert ProcessSet(client).get("nobody:1:0") is None
    assert Stats(client).snapshot().processes == 1


def test_a_process_listed_without_a_heartbeat_hash_is_not_alive(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.sadd(keys.PROCESSES, "gone:1:0", "alive:2:0")
    redis_client.hset("alive:2:0", mapping={"busy": 1, "quiet": "true", "info": "not json"})

    processes = ProcessSet(client).all()

    assert [process.identity for process in processes] == ["alive:2:0"]
    assert processes[0].quiet is True
    assert processes[0].info == {}
    assert processes[0].hostname == "alive"


@pytest.mark.parametrize("name", ["TSTP", "TERM", "TTIN"])
def test_signal_pushes_the_name_with_a_ttl(
    client: redis.Redis, redis_client: redis.Redis, name: str
) -> None:
    ProcessSet(client).signal("host:9:abc", name)

    assert redis_client.lrange(keys.signals("host:9:abc"), 0, -1) == [name]
    assert 0 < redis_client.ttl(keys.signals("host:9:abc")) <= keys.PROCESS_TTL_SECONDS


def test_quiet_and_stop_push_tstp_and_term(client: redis.Redis, redis_client: redis.Redis) -> None:
    processes = ProcessSet(client)
    processes.quiet("host:9:abc")
    processes.stop("host:9:abc")

    assert redis_client.lrange(keys.signals("host:9:abc"), 0, -1) == ["TERM", "TSTP"]


@pytest.mark.parametrize("name", ["KILL", "USR1", "tstp", "", "TSTP\n"])
def test_signal_refuses_other_names(
    client: redis.Redis, redis_client: redis.Redis, name: str
) -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        ProcessSet(client).signal("host:9:abc", name)
    assert not redis_client.exists(keys.signals("host:9:abc"))


def beats_seen(redis_client: redis.Redis, identity: str, count: int) -> None:
    """Wait until the process has written `count` more heartbeats."""
    seen = {redis_client.hget(identity, "beat")}

    def more_beats() -> bool:
        seen.add(redis_client.hget(identity, "beat"))
        return len(seen) > count

    wait_for(more_beats, message=f"{count} more heartbeats")


def test_quiet_makes_a_real_worker_stop_fetching(
    enqueue_to: str, client: redis.Redis, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(enqueue_to, "-c", "2")
    identity = running_identity(redis_client)
    before = jobs.RecordJob.perform_later(1)
    wait_for(lambda: redis_client.llen("test:runs") == 1, message="a job run before quiet")

    ProcessSet(client).quiet(identity)

    wait_for(lambda: redis_client.hget(identity, "quiet") == "true", message="quiet in its hash")
    assert not redis_client.exists(keys.signals(identity))  # the worker took the signal
    after = jobs.RecordJob.perform_later(2)
    beats_seen(redis_client, identity, 3)
    assert redis_client.lrange("test:runs", 0, -1) == [before.jid]
    [waiting] = redis_client.lrange(keys.queue("default"), 0, -1)
    assert json.loads(waiting)["jid"] == after.jid
    assert redis_client.hlen(keys.inflight(identity)) == 0
    assert worker.running()
    quiet = ProcessSet(client).get(identity)
    assert quiet is not None and quiet.quiet is True


def test_stop_makes_a_real_worker_exit(
    redis_url: str, client: redis.Redis, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(redis_url, "-c", "2")
    identity = running_identity(redis_client)

    ProcessSet(client).stop(identity)

    assert worker.wait(15) == 0
    assert ProcessSet(client).all() == []
    assert not redis_client.smembers(keys.PROCESSES)


def test_work_lists_a_running_job(
    enqueue_to: str, client: redis.Redis, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    slow = jobs.SlowJob.set(queue="slow").perform_later(7)
    worker = start_worker(enqueue_to, "-c", "2", "-q", "slow")
    identity = running_identity(redis_client)
    wait_for(lambda: redis_client.llen("test:started") == 1, message="the job started")

    [work] = wait_for(lambda: ProcessSet(client).work(), message="work in the heartbeat")

    assert work.identity == identity
    assert work.queue == "slow"
    assert work.job.jid == slow.jid
    assert work.job.klass == "SlowJob"
    assert work.job.args == [7]
    assert abs(work.run_at - time.time()) < 5

    def busy_one() -> bool:
        process = ProcessSet(client).get(identity)
        return process is not None and process.busy == 1

    wait_for(busy_one, message="busy 1 in the process hash")

    redis_client.delete("test:hold")
    wait_for(lambda: redis_client.llen("test:done") == 1, message="the job finished")
    wait_for(lambda: not ProcessSet(client).work(), message="work emptied")
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
