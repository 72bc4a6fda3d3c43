"""The Busy page marks the jobs a process runs on its event loop (async perform)."""

from __future__ import annotations

import json
import time

import redis

from sidequest import payload
from tests.integration.dashboard import seed
from tests.integration.dashboard.conftest import Browser
from tests.integration.dashboard.test_pages import text


def test_busy_marks_async_jobs(browser: Browser, db: redis.Redis) -> None:
    on_thread = seed.job("ReportJob", [1], queue="reports")
    on_loop = seed.job("FetchPageJob", [2], queue="reports")
    identity = seed.process(db, running=[on_thread])
    work = {
        "queue": "reports",
        "payload": payload.encode(on_loop),
        "run_at": int(time.time()),
        "async": True,
    }
    db.hset(f"{identity}:work", "1000000000001", json.dumps(work))
    page = text(browser.get("/busy"))
    assert on_loop["jid"] in page and on_thread["jid"] in page
    assert 'title="an async job, on the event loop">async</span>' in page
    assert page.count(">async</span>") == 1
