"""Every page loads in Chromium without console errors (CSP violations included), on a
desktop and a phone viewport, with a screenshot of each."""

from __future__ import annotations

import re
import time

import redis
from playwright.sync_api import Page, expect

from sidequest import payload
from sidequest.periodic_jobs.schedule import parse
from sidequest.periodic_jobs.store import PeriodicStore
from tests.browser.conftest import Problems, screenshot
from tests.browser.dashboard_server import DashboardServer
from tests.integration.dashboard import seed


def populate(db: redis.Redis) -> None:
    db.set("stat:processed", 4321)
    db.set("stat:failed", 12)
    for n in range(12):
        seed.enqueue(db, seed.job("ReportJob", [n, "monthly"], queue="reports"))
    seed.enqueue(
        db,
        seed.job(
            "Sidekiq::ActiveJob::Wrapper",
            [{"job_class": "MailerJob", "arguments": ["welcome", 7]}],
            wrapped="MailerJob",
            queue="mailers",
        ),
    )
    for n in range(3):
        seed.add_to_set(
            db, "retry", seed.failed("FlakyJob", f"timeout #{n}"), time.time() + 60 * (n + 1)
        )
    seed.add_to_set(db, "schedule", seed.job("LaterJob", [1]), time.time() + 3600)
    seed.add_to_set(db, "dead", seed.failed("DeadJob", "gave up"), time.time() - 300)
    seed.process(db, running=[seed.job("ReportJob", [99], queue="reports")])
    nightly = {"cron": "30 2 * * *", "tz": "Europe/Berlin", "class": "ReportJob", "args": [7]}
    PeriodicStore(db).publish(
        [
            parse("nightly_report", nightly).resolved(queue="reports", retry=True),
            parse("pulse", {"every": 30, "class": "PingJob"}).resolved(queue="default", retry=1),
        ],
        time.time(),
    )
    PeriodicStore(db).pause("pulse")
    # A concurrency key at its limit with two jobs parked, and a rate limit (keys.py).
    db.hset("sidequest:limits:concurrency", "stripe:42", "3")
    db.zadd(
        "sidequest:limits:slots:stripe:42",
        {f"host:1:abc|{n}": time.time() + 300 for n in range(3)},
    )
    for n in range(2):
        db.lpush(
            "sidequest:limits:parked:stripe:42", payload.encode(seed.job("ChargeJob", [42, n]))
        )
    db.hset("sidequest:limits:rate", "ChargeJob", "100/1.0")
    db.zadd("sidequest:limits:starts:ChargeJob", {"host:1:abc|9": time.time()})
    minute = time.strftime("%Y%m%d%H%M", time.gmtime())[:-1]
    db.hset(
        f"sidequest:metrics:{minute}",
        mapping={"ReportJob|p": 40, "ReportJob|f": 2, "ReportJob|ms": 8000, "ReportJob|h13": 40},
    )


PAGES = {
    "dashboard": ("", "Dashboard"),
    "busy": ("busy", "Busy"),
    "queues": ("queues", "Queues"),
    "queue": ("queues/reports", "Queue reports"),
    "retries": ("retries", "Retries"),
    "scheduled": ("scheduled", "Scheduled"),
    "dead": ("dead", "Dead"),
    "periodic": ("periodic", "Periodic"),
    "limits": ("limits", "Limits"),
    "metrics": ("metrics", "Job metrics"),
}


def test_every_page_loads_without_console_errors(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    populate(db)
    for name, (path, heading) in PAGES.items():
        page.goto(dashboard.url + path)
        expect(page.locator("h1")).to_contain_text(heading)
        expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
        screenshot(page, name)
    page.goto(dashboard.url + "retries")
    page.locator("a.job-class").first.click()
    expect(page.locator("pre.backtrace")).to_contain_text("flaky_job.py:12")
    screenshot(page, "retry-entry")
    assert problems.messages == []


def test_pages_are_readable_on_a_phone(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    populate(db)
    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("dashboard", "retries", "busy", "queue", "periodic", "limits"):
        page.goto(dashboard.url + PAGES[name][0])
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px on a phone"
        screenshot(page, f"phone-{name}")
    assert problems.messages == []


def test_times_show_relative_text_and_absolute_title(
    dashboard: DashboardServer, page: Page, db: redis.Redis
) -> None:
    populate(db)
    page.goto(dashboard.url + "dead")
    stamp = page.locator("td time").first
    expect(stamp).to_have_text(re.compile(r"^\d+ minutes? ago$"))
    expect(stamp).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
