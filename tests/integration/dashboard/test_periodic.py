"""The Periodic page: every published schedule, and its pause, resume and run-now buttons."""

from __future__ import annotations

import json
import re
import time

import pytest
import redis

from sidequest.periodic_jobs import keys
from sidequest.periodic_jobs.schedule import Schedule, parse
from sidequest.periodic_jobs.store import PeriodicStore
from tests.integration.dashboard.conftest import Browser


def schedule(name: str, **settings: object) -> Schedule:
    return parse(name, {"class": "NightlyReportJob", **settings}).resolved(
        queue="reports", retry=True
    )


@pytest.fixture
def store(db: redis.Redis) -> PeriodicStore:
    published = PeriodicStore(db)
    published.publish(
        [
            schedule("nightly", cron="30 2 * * *", tz="Europe/Berlin", args=[7]),
            schedule("pulse", every=60, missed="all", missed_limit=5),
        ],
        time.time(),
    )
    return published


def action_form(page: str, name: str) -> str:
    """The action form of one schedule's row."""
    found = re.search(
        r'<form method="post" action="/sidequest/periodic/action"[^>]*>.*?'
        rf'name="name" value="{name}">(.*?)</form>',
        page,
        re.S,
    )
    assert found, f"no action form for {name}"
    return found.group(1)


def test_the_page_lists_every_schedule_and_the_nav_links_it(
    browser: Browser, store: PeriodicStore
) -> None:
    response = browser.get("/periodic")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<a href="/sidequest/periodic" class="current" aria-current="page">Periodic</a>' in page
    assert '<h1>Periodic <span class="count">2</span></h1>' in page
    for text in ("nightly", "cron 30 2 * * *", "Europe/Berlin", "NightlyReportJob", "[7]"):
        assert text in page
    assert "pulse" in page and "every 60 s" in page and "missed: all (up to 5)" in page
    # The next nightly tick, in Berlin's wall time.
    assert re.search(r"\d{4}-\d\d-\d\d 02:30:00 CES?T", page)
    assert 'value="pause">Pause</button>' in action_form(page, "nightly")
    assert 'value="run"' in action_form(page, "nightly")
    assert "Periodic" in browser.get("/").get_data(as_text=True)


def test_the_page_without_schedules_says_how_they_are_published(browser: Browser) -> None:
    page = browser.get("/periodic").get_data(as_text=True)
    assert "No periodic jobs are published" in page


def test_pause_and_resume_buttons(browser: Browser, store: PeriodicStore) -> None:
    response = browser.post("/periodic/action", {"action": "pause", "name": "nightly"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sidequest/periodic")
    assert browser.notice().startswith("Paused nightly")
    assert [s.paused for s in store.statuses(time.time())] == [True, False]
    page = browser.get("/periodic").get_data(as_text=True)
    assert 'value="resume">Resume</button>' in action_form(page, "nightly")
    assert '<span class="tag warn">paused</span>' in page

    browser.post("/periodic/action", {"action": "resume", "name": "nightly"})
    assert browser.notice() == "Resumed nightly: it runs from its next tick."
    assert [s.paused for s in store.statuses(time.time())] == [False, False]
    browser.post("/periodic/action", {"action": "resume", "name": "nightly"})
    assert browser.notice() == "nightly was not paused."


def test_run_now_enqueues_the_job_at_once(
    browser: Browser, store: PeriodicStore, db: redis.Redis
) -> None:
    before = time.time()
    browser.post("/periodic/action", {"action": "run", "name": "nightly"})

    (raw,) = db.lrange("queue:reports", 0, -1)
    job = json.loads(raw)
    assert (job["class"], job["args"], job["periodic"], job["periodic_manual"]) == (
        "NightlyReportJob",
        [7],
        "nightly",
        True,
    )
    assert before <= job["enqueued_at"] <= time.time()
    assert browser.notice() == f"Enqueued nightly now, outside its schedule (job {job['jid']})."
    page = browser.get("/periodic").get_data(as_text=True)
    assert f"<code>{job['jid']}</code>" in page


def test_actions_need_the_csrf_token_a_known_name_and_a_known_action(
    browser: Browser, store: PeriodicStore, db: redis.Redis
) -> None:
    refused = browser.post("/periodic/action", {"action": "pause", "name": "nightly"}, token="x")
    assert refused.status_code == 403
    assert not db.hexists(keys.state("nightly"), "paused")
    assert browser.post("/periodic/action", {"action": "pause", "name": "nope"}).status_code == 404
    bad = browser.post("/periodic/action", {"action": "delete", "name": "nightly"})
    assert bad.status_code == 400
    assert browser.client.get("/sidequest/periodic").status_code == 401  # no credentials
