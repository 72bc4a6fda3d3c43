"""Every page renders what Redis holds, read through sidequest.api."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import redis
from werkzeug.test import TestResponse

from sidequest import keys, payload
from tests.integration.dashboard import seed
from tests.integration.dashboard.conftest import Browser


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def test_dashboard_shows_the_totals_history_and_redis(browser: Browser, db: redis.Redis) -> None:
    db.set("stat:processed", 1234)
    db.set("stat:failed", 56)
    today = datetime.now(UTC).date()
    db.set(f"stat:processed:{today:%Y-%m-%d}", 40)
    db.set(f"stat:failed:{(today - timedelta(days=3)):%Y-%m-%d}", 7)
    seed.enqueue(db, seed.job())
    seed.add_to_set(db, "retry", seed.failed(), time.time() + 60)

    page = text(browser.get("/"))

    assert 'data-stat="processed">1,234<' in page
    assert 'data-stat="failed">56<' in page
    assert 'data-stat="enqueued">1<' in page
    assert 'data-stat="retries">1<' in page
    assert 'id="history-graph"' in page and "last 30 days" in page
    assert re.search(r'class="series processed" points="[0-9., ]+"', page)
    assert "Version</dt><dd>" in page


def test_history_covers_the_chosen_number_of_days(browser: Browser) -> None:
    for days in (7, 30, 90, 180):
        page = text(browser.get(f"/?days={days}"))
        points = re.search(r'class="series processed" points="([^"]+)"', page)
        assert points is not None
        assert len(points.group(1).split()) == days


def test_stats_json_is_what_the_live_graph_polls(browser: Browser, db: redis.Redis) -> None:
    db.set("stat:processed", 10)
    seed.add_to_set(db, "dead", seed.failed(), time.time())
    response = browser.get("/stats.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    stats = response.get_json()
    assert stats["processed"] == 10
    assert stats["dead"] == 1
    assert {"failed", "busy", "enqueued", "scheduled", "retries", "processes", "time"} <= set(stats)
    assert stats["redis"]["redis_version"]


def test_busy_lists_processes_and_the_jobs_they_run(browser: Browser, db: redis.Redis) -> None:
    running = seed.job("ReportJob", [42], queue="reports")
    identity = seed.process(db, running=[running])
    page = text(browser.get("/busy"))
    assert "web-1:4242" in page
    assert identity in page
    assert "reports" in page and "blue" in page
    assert "121 MB" in page  # rss 123456 KB
    assert "ReportJob" in page and running["jid"] in page and "[42]" in page
    assert running["jid"] in text(browser.get("/busy?filter=reportjob"))
    filtered = text(browser.get("/busy?filter=MailJob"))
    assert running["jid"] not in filtered and "No running job matches" in filtered


def test_queues_list_sizes_and_latency(browser: Browser, db: redis.Redis) -> None:
    old = seed.job(queue="mailers")
    old["enqueued_at"] = time.time() - 120
    seed.enqueue(db, old)
    seed.enqueue(db, seed.job(queue="mailers"))
    seed.enqueue(db, seed.job(queue="default"))
    page = text(browser.get("/queues"))
    assert re.search(r">mailers</a></td>\s*<td[^>]*>2</td>\s*<td[^>]*>2\.\d min</td>", page)
    assert re.search(r">default</a></td>\s*<td[^>]*>1</td>", page)
    filtered = text(browser.get("/queues?filter=mail"))
    assert "mailers" in filtered and ">default<" not in filtered


def test_a_queue_page_pages_through_its_jobs_newest_first(
    browser: Browser, db: redis.Redis
) -> None:
    jids = [seed.enqueue(db, seed.job("PageJob", [n])) and n for n in range(30)]
    first = text(browser.get("/queues/default?per_page=10"))
    assert first.count("PageJob") == 10
    assert "[29, " not in first  # arguments render as [29] for one-element lists
    assert ">[29]<" in first and ">[20]<" in first and ">[19]<" not in first
    third = text(browser.get("/queues/default?per_page=10&page=3"))
    assert ">[9]<" in third and ">[0]<" in third
    assert len(jids) == 30


def test_sets_list_entries_with_their_fields(browser: Browser, db: redis.Redis) -> None:
    seed.add_to_set(db, "retry", seed.failed("FlakyJob", "connection reset"), time.time() + 90)
    seed.add_to_set(db, "schedule", seed.job("LaterJob", [7]), time.time() + 3600)
    seed.add_to_set(db, "dead", seed.failed("DeadJob", "gave up"), time.time() - 10)

    retries = text(browser.get("/retries"))
    assert "FlakyJob" in retries and "connection reset" in retries and "RuntimeError" in retries
    assert re.search(r'<time datetime="[^"]+" title="[^"]+ UTC">in 1 minute</time>', retries)
    scheduled = text(browser.get("/scheduled"))
    assert "LaterJob" in scheduled and "Enqueue now" in scheduled and "Kill" not in scheduled
    dead = text(browser.get("/dead"))
    assert "DeadJob" in dead and "gave up" in dead and "10 seconds ago" in dead


def test_an_entry_page_shows_the_payload_and_decoded_backtrace(
    browser: Browser, db: redis.Redis
) -> None:
    item = seed.failed("FlakyJob", "connection reset")
    seed.add_to_set(db, "retry", item, 1_900_000_000.5)
    listing = text(browser.get("/retries"))
    link = re.search(r'href="/sidequest(/retries/entry/[^"]+)"', listing)
    assert link is not None
    page = text(browser.get(link.group(1)))
    assert "app/jobs/flaky_job.py:12:in `perform&#39;" in page
    assert item["jid"] in page
    assert "&#34;error_class&#34;: &#34;RuntimeError&#34;" in page  # the pretty payload


def test_activejob_and_display_class_payloads_show_the_real_class(
    browser: Browser, db: redis.Redis
) -> None:
    wrapped = seed.job(
        "Sidekiq::ActiveJob::Wrapper",
        [{"job_class": "ProcessReportJob", "arguments": [42, "monthly"], "job_id": "abc"}],
        wrapped="ProcessReportJob",
    )
    old_wrapper = seed.job(
        "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        [{"job_class": "MailerJob", "arguments": ["welcome"]}],
    )
    seed.enqueue(db, wrapped)
    seed.enqueue(db, old_wrapper)
    page = text(browser.get("/queues/default"))
    assert "ProcessReportJob" in page and "[42, &#34;monthly&#34;]" in page
    assert "MailerJob" in page and "[&#34;welcome&#34;]" in page
    assert "Sidekiq::ActiveJob::Wrapper</strong>" not in page


def test_metrics_page_shows_what_workers_recorded(browser: Browser, db: redis.Redis) -> None:
    minute = datetime.now(UTC).strftime("%Y%m%d%H%M")[:-1]
    hour = minute[:10]
    for key in (f"sidequest:metrics:{minute}", f"sidequest:metrics:hour:{hour}"):
        db.hset(
            key,
            mapping={
                "ReportJob|p": 20,
                "ReportJob|f": 5,
                "ReportJob|ms": 2000,
                "ReportJob|h12": 20,
            },
        )
    page = text(browser.get("/metrics"))
    assert "ReportJob" in page
    assert ">20<" in page and ">5<" in page and "25.0 %" in page
    assert ">100 ms<" in page  # mean: 2000 ms / 20
    assert text(browser.get("/metrics?window=day")).count("ReportJob") >= 1
    assert "No job ran" in text(browser.get("/metrics?filter=nothing-like-this"))


def test_malformed_payloads_still_render(browser: Browser, db: redis.Redis) -> None:
    db.sadd("queues", "default")
    db.lpush("queue:default", b"not json at all")
    db.zadd("retry", {b"[1, 2]": time.time()})
    assert "(malformed)" in text(browser.get("/queues/default"))
    assert "(malformed)" in text(browser.get("/retries"))


def test_unknown_entries_and_queues_are_404(browser: Browser) -> None:
    assert browser.get("/queues/nope").status_code == 404
    response = browser.get("/retries/entry/1.5|abc")
    assert response.status_code == 404
    assert "may have moved" in text(response)


def test_pages_answer_503_when_redis_is_gone(redis_url: str) -> None:
    from tests.integration.dashboard.conftest import make_app

    app = make_app(redis_url, SIDEQUEST_WEB_PAGE_SIZE=25)
    app.extensions["sidequest_dashboard"].redis.connection_pool.connection_kwargs["port"] = 1
    app.extensions["sidequest_dashboard"].redis.connection_pool.disconnect()
    with app.test_client() as client:
        browser = Browser(client)
        page = browser.get("/retries")
        assert page.status_code == 503
        assert "Redis is unavailable" in text(page)
        feed = browser.get("/stats.json")
        assert feed.status_code == 503
        assert feed.get_json()["error"] == "redis_unavailable"


def test_payload_json_round_trips_through_the_entry_page(browser: Browser, db: redis.Redis) -> None:
    item = seed.job("UnicodeJob", ["Grüße", {"nested": [1, 2.5, None]}])
    seed.add_to_set(db, "schedule", item, 1_900_000_000.25)
    entry = payload.decode(payload.encode(item))
    page = text(browser.get(f"/scheduled/entry/{1_900_000_000.25!r}|{entry['jid']}"))
    assert "Grüße" in page and "&#34;nested&#34;" in page
    assert json.dumps(entry["args"][1]["nested"]) == "[1, 2.5, null]"


def test_keyword_arguments_show_as_keywords_in_lists_and_on_the_entry_page(
    browser: Browser, db: redis.Redis
) -> None:
    stored = [42, {"format": "pdf", "_aj_ruby2_keywords": ["format"]}]
    seed.enqueue(db, seed.job("ReportJob", stored, queue="reports"))
    item = seed.job("ReportJob", stored)
    seed.add_to_set(db, "schedule", item, 1_900_000_000.5)

    listed = text(browser.get("/queues/reports"))
    scheduled = text(browser.get("/scheduled"))
    entry = text(browser.get(f"/scheduled/entry/{1_900_000_000.5!r}|{item['jid']}"))

    for page in (listed, scheduled):
        assert "[42, format=&#34;pdf&#34;]" in page
        assert "_aj_ruby2_keywords" not in page
    assert "Keyword arguments</dt>" in entry
    assert "&#34;format&#34;: &#34;pdf&#34;" in entry


def test_busy_shows_the_progress_a_running_job_reported(browser: Browser, db: redis.Redis) -> None:
    running = seed.job("ReportJob", [42], queue="reports")
    silent = seed.job("MailJob", [1], queue="mailers")
    seed.process(db, running=[running, silent])
    db.hset(
        keys.progress(running["jid"]),
        mapping={
            "done": 30,
            "total": 120,
            "message": "2024-01-30 summed",
            "updated_at": time.time(),
        },
    )

    page = text(browser.get("/busy"))

    assert '<progress max="100" value="25">' in page
    assert "2024-01-30 summed" in page
    assert page.count("<progress") == 1  # the job that reported none shows none
