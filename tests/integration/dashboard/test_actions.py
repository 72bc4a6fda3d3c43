"""POST actions change Redis as the buttons say, and report what they did."""

from __future__ import annotations

import json

import redis

from sidequest.api import EntryId, SortedEntry
from tests.integration.dashboard import seed
from tests.integration.dashboard.conftest import Browser


def entry_id(raw: str, score: float) -> str:
    return str(SortedEntry(raw, score, "retry").id)


def test_retry_now_moves_an_entry_to_its_queue(browser: Browser, db: redis.Redis) -> None:
    item = seed.failed(queue="mailers")
    raw = seed.add_to_set(db, "retry", item, 1_900_000_000.0)
    response = browser.post("/retries/selected", {"action": "retry", "id": entry_id(raw, 1.9e9)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sidequest/retries")
    assert db.zcard("retry") == 0
    moved = json.loads(db.lindex("queue:mailers", 0))
    assert moved["jid"] == item["jid"]
    assert moved["retry_count"] == 1  # a manual retry does not count against the limit
    assert "Retried 1 job." in browser.notice()


def test_actions_on_selected_entries_touch_only_those(browser: Browser, db: redis.Redis) -> None:
    raws = [seed.add_to_set(db, "retry", seed.failed(), 1_900_000_000.0 + n) for n in range(5)]
    chosen = [entry_id(raws[n], 1_900_000_000.0 + n) for n in (1, 3)]
    response = browser.post("/retries/selected", {"action": "kill", "id": chosen})
    assert response.status_code == 303
    assert db.zcard("retry") == 3
    assert db.zcard("dead") == 2
    assert set(db.zrange("retry", 0, -1)) == {raws[0].encode(), raws[2].encode(), raws[4].encode()}
    assert "Killed 2 jobs." in browser.notice()


def test_delete_selected_and_entries_that_already_moved(browser: Browser, db: redis.Redis) -> None:
    raw = seed.add_to_set(db, "dead", seed.failed(), 1_800_000_000.0)
    ghost = str(EntryId(1_700_000_000.0, "0" * 24))
    response = browser.post(
        "/dead/selected", {"action": "delete", "id": [entry_id(raw, 1.8e9), ghost]}
    )
    assert response.status_code == 303
    assert db.zcard("dead") == 0
    assert browser.notice() == "Deleted 1 job. 1 entry had already moved."


def test_enqueue_now_moves_a_scheduled_job(browser: Browser, db: redis.Redis) -> None:
    item = seed.job("LaterJob", queue="reports")
    raw = seed.add_to_set(db, "schedule", item, 1_900_000_000.0)
    browser.post("/scheduled/selected", {"action": "enqueue", "id": entry_id(raw, 1.9e9)})
    assert db.zcard("schedule") == 0
    assert json.loads(db.lindex("queue:reports", 0))["jid"] == item["jid"]
    assert db.sismember("queues", "reports")


def test_actions_a_set_does_not_allow_are_refused(browser: Browser, db: redis.Redis) -> None:
    raw = seed.add_to_set(db, "schedule", seed.job(), 1_900_000_000.0)
    response = browser.post("/scheduled/selected", {"action": "kill", "id": entry_id(raw, 1.9e9)})
    assert response.status_code == 400
    assert "Scheduled entries allow: enqueue, delete" in response.get_data(as_text=True)
    assert db.zcard("schedule") == 1
    assert browser.post("/dead/all", {"action": "kill"}).status_code == 400


def test_retry_all_and_kill_all_and_delete_all(browser: Browser, db: redis.Redis) -> None:
    for n in range(7):
        seed.add_to_set(db, "retry", seed.failed(queue="q1"), 1_900_000_000.0 + n)
    browser.post("/retries/all", {"action": "retry"})
    assert db.zcard("retry") == 0 and db.llen("queue:q1") == 7
    for n in range(4):
        seed.add_to_set(db, "retry", seed.failed(), 1_900_000_000.0 + n)
    browser.post("/retries/all", {"action": "kill"})
    assert db.zcard("retry") == 0 and db.zcard("dead") == 4
    browser.post("/dead/all", {"action": "delete"})
    assert db.zcard("dead") == 0
    assert browser.notice() == "Deleted 4 jobs."


def test_all_actions_are_bounded_per_request(redis_url: str, db: redis.Redis) -> None:
    from tests.integration.dashboard.conftest import make_app

    app = make_app(redis_url, SIDEQUEST_WEB_BULK_LIMIT=3)
    for n in range(5):
        seed.add_to_set(db, "retry", seed.failed(), 1_900_000_000.0 + n)
    with app.test_client() as client:
        browser = Browser(client)
        browser.post("/retries/all", {"action": "retry"})
        assert db.zcard("retry") == 2
        assert browser.notice() == "Retried 3 jobs. 2 remain: press again to continue."
        browser.post("/retries/all", {"action": "retry"})
        assert db.zcard("retry") == 0


def test_delete_one_queued_job(browser: Browser, db: redis.Redis) -> None:
    keep = seed.job(queue="default")
    drop = seed.job(queue="default")
    seed.enqueue(db, keep)
    seed.enqueue(db, drop)
    response = browser.post(
        "/queue-actions/delete-job", {"queue": "default", "jid": drop["jid"], "index": "0"}
    )
    assert response.status_code == 303
    assert [json.loads(raw)["jid"] for raw in db.lrange("queue:default", 0, -1)] == [keep["jid"]]
    assert browser.notice() == f"Deleted job {drop['jid']}."
    browser.post("/queue-actions/delete-job", {"queue": "default", "jid": drop["jid"]})
    assert "no longer in the queue" in browser.notice()


def test_clear_queue(browser: Browser, db: redis.Redis) -> None:
    for _ in range(3):
        seed.enqueue(db, seed.job(queue="bulk"))
    seed.enqueue(db, seed.job(queue="other"))
    response = browser.post("/queue-actions/clear", {"queue": "bulk"})
    assert response.status_code == 303
    assert db.llen("queue:bulk") == 0 and not db.sismember("queues", "bulk")
    assert db.llen("queue:other") == 1
    assert browser.post("/queue-actions/clear", {"queue": "missing"}).status_code == 404


def test_quiet_and_stop_send_signals_to_processes(browser: Browser, db: redis.Redis) -> None:
    first = seed.process(db, "host-a:1:aaaaaaaaaaaa")
    second = seed.process(db, "host-b:2:bbbbbbbbbbbb")
    browser.post("/busy/signal", {"action": "quiet", "identity": first})
    assert db.lrange(f"{first}-signals", 0, -1) == [b"TSTP"]
    assert db.llen(f"{second}-signals") == 0
    browser.post("/busy/signal", {"action": "stop", "identity": "*"})
    assert db.lrange(f"{first}-signals", 0, -1) == [b"TERM", b"TSTP"]
    assert db.lrange(f"{second}-signals", 0, -1) == [b"TERM"]
    assert browser.notice() == "Sent stop to 2 processes."
    unknown = browser.post("/busy/signal", {"action": "stop", "identity": "ghost:1:1"})
    assert unknown.status_code == 404
    assert browser.post("/busy/signal", {"action": "boom", "identity": first}).status_code == 400


def test_filtering_finds_entries_by_class_or_payload(browser: Browser, db: redis.Redis) -> None:
    seed.add_to_set(db, "retry", seed.failed("InvoiceJob", args=[]), 1_900_000_000.0)
    seed.add_to_set(db, "retry", seed.failed("EmailJob", message="smtp refused"), 1_900_000_001.0)
    for n in range(50):
        seed.enqueue(db, seed.job("QueuedJob", [f"customer-{n}"]))
    by_class = browser.get("/retries?filter=invoicejob").get_data(as_text=True)
    assert "InvoiceJob" in by_class and "EmailJob" not in by_class
    by_payload = browser.get("/retries?filter=SMTP").get_data(as_text=True)
    assert "EmailJob" in by_payload and "InvoiceJob" not in by_payload
    assert "1 match after examining 2 of 2 entries." in " ".join(by_payload.split())
    in_queue = browser.get("/queues/default?filter=customer-42").get_data(as_text=True)
    assert "customer-42" in in_queue and "customer-41" not in in_queue


def test_deleting_a_filtered_queue_job_finds_it_anywhere(browser: Browser, db: redis.Redis) -> None:
    target = seed.job("Needle", queue="default")
    seed.enqueue(db, target)
    for n in range(1500):
        seed.enqueue(db, seed.job("Hay", [n]))
    browser.post("/queue-actions/delete-job", {"queue": "default", "jid": target["jid"]})
    assert db.llen("queue:default") == 1500
    assert browser.notice() == f"Deleted job {target['jid']}."
