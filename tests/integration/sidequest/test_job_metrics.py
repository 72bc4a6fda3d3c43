"""Per-class job metrics: the middleware's writes, the API's reads, and real workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from sidequest import keys
from sidequest.api import JobMetrics as MetricsReader
from sidequest.api import search_sorted_set
from sidequest.job_metrics import JobMetrics
from sidequest.middleware import DEAD, RETRIED, SUCCEEDED, JobContext
from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

NOON = datetime(2026, 5, 4, 12, 30, 15, tzinfo=UTC).timestamp()


def context(job_class: str) -> JobContext:
    return JobContext("0" * 24, job_class, "default", None, NOON)


def test_one_flush_writes_minute_and_hour_hashes_with_ttls(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    recorder = JobMetrics(client, clock=lambda: NOON)
    for duration in (0.010, 0.020, 0.030):
        recorder.job_finished(context("ReportJob"), SUCCEEDED, duration, None)
    recorder.job_finished(context("ReportJob"), RETRIED, 0.5, ValueError())
    recorder.job_finished(context("MailJob"), DEAD, 0.001, ValueError())
    assert client.keys("sidequest:metrics:*") == []  # nothing is written before a beat

    recorder.heartbeat()

    minute = client.hgetall(keys.metrics_bucket("20260504123"))
    assert minute[b"ReportJob|p"] == b"4" and minute[b"ReportJob|f"] == b"1"
    assert float(minute[b"ReportJob|ms"]) == 560.0
    assert minute[b"MailJob|p"] == b"1" and minute[b"MailJob|f"] == b"1"
    assert client.hgetall(keys.metrics_hour_bucket("2026050412")) == minute
    assert 0 < client.ttl(keys.metrics_bucket("20260504123")) <= 2 * 3600
    assert 2 * 3600 < client.ttl(keys.metrics_hour_bucket("2026050412")) <= 25 * 3600

    rows = {row.job_class: row for row in MetricsReader(client).by_class("hour", NOON + 60)}
    report = rows["ReportJob"]
    assert (report.executions, report.failures) == (4, 1)
    assert report.mean_ms == 140.0
    assert report.p95_ms is not None and 500 / 1.5 <= report.p95_ms <= 500 * 1.5
    assert [row.job_class for row in MetricsReader(client).by_class("day", NOON + 3000)] == [
        "ReportJob",
        "MailJob",
    ]
    assert MetricsReader(client).by_class("hour", NOON + 2 * 3600) == []  # out of the window
    client.close()


def test_tallies_survive_a_beat_without_redis(redis_url: str) -> None:
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2)
    recorder = JobMetrics(unreachable, clock=lambda: NOON)
    recorder.job_finished(context("ReportJob"), SUCCEEDED, 0.01, None)
    assert recorder.flush() is False
    client = redis.Redis.from_url(redis_url)
    recorder.redis = client
    recorder.job_finished(context("ReportJob"), SUCCEEDED, 0.01, None)
    assert recorder.flush() is True
    assert client.hget(keys.metrics_bucket("20260504123"), "ReportJob|p") == b"2"
    client.close()


def test_every_worker_records_metrics_by_default(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    jobs.RecordJob.perform_bulk([[n] for n in range(20)])
    jobs.DeadAtOnceJob.perform_later()
    start_worker(enqueue_to)
    reader = MetricsReader(redis.Redis.from_url(enqueue_to))

    def recorded() -> dict[str, tuple[int, int]]:
        rows = {row.job_class: (row.executions, row.failures) for row in reader.by_class("hour")}
        done = rows.get("RecordJob") == (20, 0) and rows.get("DeadAtOnceJob") == (1, 1)
        return rows if done else {}

    rows = wait_for(recorded, timeout=20, message="metrics flushed by the heartbeat")
    assert set(rows) == {"RecordJob", "DeadAtOnceJob"}
    minute_keys = redis_client.keys("sidequest:metrics:2*")
    assert minute_keys and all(0 < redis_client.ttl(key) <= 2 * 3600 for key in minute_keys)


def test_search_matches_text_literally_ignoring_case_in_set_order(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.zadd("retry", {'{"class":"A","args":["50%*off?[x]"],"jid":"1"}': 1.0})
    client.zadd("retry", {'{"class":"B","args":["50 off"],"jid":"2"}': time.time()})
    client.zadd("retry", {'{"class":"C","args":["Grüße 50%*OFF?["],"jid":"3"}': 2.0})
    found = search_sorted_set(client, "retry", "%*OFF?[", limit=10, max_scanned=100)
    assert [entry.jid for entry in found.matches] == ["1", "3"]
    assert found.complete and found.scanned == 3
    newest = search_sorted_set(client, "retry", "grüße", limit=10, max_scanned=100)
    assert [entry.jid for entry in newest.matches] == ["3"]
    first = search_sorted_set(client, "retry", "50", limit=1, max_scanned=100, newest_first=True)
    assert [entry.jid for entry in first.matches] == ["2"] and not first.complete
    client.close()
