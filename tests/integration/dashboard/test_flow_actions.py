"""The dashboard's flow-control buttons: pause and resume a queue, cancel a job."""

from __future__ import annotations

import json

import redis

from sidequest import keys
from sidequest.api import SortedEntry
from tests.integration.dashboard import seed
from tests.integration.dashboard.conftest import Browser


def test_pause_and_resume_from_the_queues_page(browser: Browser, db: redis.Redis) -> None:
    seed.enqueue(db, seed.job(queue="mailers"))
    page = browser.get("/queues").get_data(as_text=True)
    assert "/queue-actions/pause" in page and "paused</span>" not in page

    response = browser.post("/queue-actions/pause", {"queue": "mailers"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sidequest/queues")
    assert db.smembers(keys.PAUSED) == {b"mailers"}
    assert "Paused queue mailers" in browser.notice()
    page = browser.get("/queues").get_data(as_text=True)
    assert "paused</span>" in page and "/queue-actions/resume" in page
    queue_page = browser.get("/queues/mailers").get_data(as_text=True)
    assert "Resume queue" in queue_page

    response = browser.post("/queue-actions/resume", {"queue": "mailers", "back": "queue"})

    assert response.headers["Location"].endswith("/sidequest/queues/mailers")
    assert not db.exists(keys.PAUSED)
    assert browser.notice() == "Resumed queue mailers."


def test_pause_refuses_a_bad_queue_name(browser: Browser, db: redis.Redis) -> None:
    assert browser.post("/queue-actions/pause", {"queue": "two words"}).status_code == 400
    assert browser.post("/queue-actions/pause", {"queue": ""}).status_code == 400
    assert not db.exists(keys.PAUSED)


def test_cancel_a_queued_job_from_its_queue_page(browser: Browser, db: redis.Redis) -> None:
    keep, drop = seed.job(queue="reports"), seed.job(queue="reports")
    seed.enqueue(db, keep)
    seed.enqueue(db, drop)
    assert "/job-actions/cancel" in browser.get("/queues/reports").get_data(as_text=True)

    response = browser.post(
        "/job-actions/cancel", {"jid": drop["jid"], "queue": "reports", "back": "queue"}
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sidequest/queues/reports")
    assert [seed_jid(raw) for raw in db.lrange("queue:reports", 0, -1)] == [keep["jid"]]
    assert browser.notice() == f"Cancelled {drop['jid']}: removed from queue:reports."
    assert db.zscore(keys.CANCELLED, drop["jid"]) is not None


def test_cancel_a_scheduled_job_from_its_entry_page(browser: Browser, db: redis.Redis) -> None:
    item = seed.job()
    raw = seed.add_to_set(db, "schedule", item, 1_900_000_000.0)
    entry = SortedEntry(raw, 1_900_000_000.0, "schedule").id
    assert "/job-actions/cancel" in browser.get(f"/scheduled/entry/{entry}").get_data(as_text=True)

    response = browser.post("/job-actions/cancel", {"jid": item["jid"], "back": "scheduled"})

    assert response.headers["Location"].endswith("/sidequest/scheduled")
    assert db.zcard("schedule") == 0


def test_cancel_a_running_job_from_the_busy_page(browser: Browser, db: redis.Redis) -> None:
    running = seed.job(queue="default")
    seed.process(db, running=[running])
    assert "/job-actions/cancel" in browser.get("/busy").get_data(as_text=True)

    browser.post("/job-actions/cancel", {"jid": running["jid"], "back": "busy"})

    assert db.zscore(keys.CANCELLED, running["jid"]) is not None
    assert "running in web-1:4242:0123456789ab" in browser.notice()


def test_cancel_refuses_a_malformed_jid_and_a_foreign_page(
    browser: Browser, db: redis.Redis
) -> None:
    assert browser.post("/job-actions/cancel", {"jid": "no such*"}).status_code == 400
    jid = "0123456789abcdef01234567"
    assert browser.post("/job-actions/cancel", {"jid": jid, "back": "//evil"}).status_code == 400


def seed_jid(raw: bytes) -> str:
    return str(json.loads(raw)["jid"])
