"""The shop's pages in headless Chromium: forms, and report statuses that update by
themselves through static/reports.js, under the pages' strict CSP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from shop import jobs as shop_jobs
from shop.db import SessionFactory, migrate, session_factory_for
from shop.jobs import ProcessReportJob
from shop.reports import load_report, mark_failed, mark_processing
from shop.seed import seed_orders
from shop.settings import ShopSettings
from sidequest import progress, testing
from sidequest.progress_recorder import RedisSink
from tests.browser.conftest import Problems, screenshot
from tests.support.web_server import GunicornServer, http

XSS = '<img src=x onerror="window.pwned = 1">'


@dataclass
class Shop:
    web: GunicornServer
    session_factory: SessionFactory

    def request_report(self, kind: str = "sales_by_day") -> str:
        answer = http(
            "POST",
            self.web.url("/api/reports"),
            json_body={"kind": kind, "from": "2024-06-01", "to": "2024-06-30"},
        )
        assert answer.status == 202
        report_id: str = answer.json()["id"]
        return report_id


@pytest.fixture
def shop(tmp_path: Path, redis_url: str) -> Iterator[Shop]:
    """The shop served by gunicorn on seeded SQLite; no worker: tests build reports."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    factory = session_factory_for(url)
    seed_orders(factory, 2_000, days=60, seed=5, until=date(2024, 6, 30))
    settings = ShopSettings(database_url=url, results_dir=tmp_path / "reports")
    shop_jobs.configure(settings, session_factory=factory)
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": url,
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "browser",
    }
    with GunicornServer(env, tmp_path / "gunicorn.log") as web:
        yield Shop(web, factory)
    shop_jobs.reset()
    bind = factory.kw.get("bind")
    if bind is not None:
        bind.dispose()


def test_statuses_update_in_place_as_reports_finish(
    shop: Shop, page: Page, problems: Problems
) -> None:
    built, broken = shop.request_report(), shop.request_report("sales_by_product")
    page.goto(shop.web.url("/reports"))
    pending = page.locator(f'tr[data-report-id="{built}"] [data-field="status"]')
    assert pending.text_content() == "pending"
    screenshot(page, "shop-reports-pending")

    with testing.fake():
        ProcessReportJob.perform_now(built)
    mark_failed(shop.session_factory, broken, XSS)

    done_row = page.locator(f'tr[data-report-id="{built}"][data-status="done"]')
    done_row.wait_for()
    assert done_row.locator('[data-field="status"]').text_content() == "done"
    link = done_row.get_by_role("link", name="Download CSV")
    assert link.get_attribute("href") == f"/reports/{built}/download"
    failed_row = page.locator(f'tr[data-report-id="{broken}"][data-status="failed"]')
    failed_row.wait_for()
    # The error arrives from the API and is written as text, never as markup.
    assert failed_row.locator('[data-field="result"]').text_content() == XSS
    assert failed_row.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    screenshot(page, "shop-reports-finished")

    with page.expect_download() as download_info:
        link.click()
    assert download_info.value.suggested_filename == f"report-{built}.csv"
    assert problems.messages == []


def test_the_report_form_requests_a_report_and_shows_its_problems(
    shop: Shop, page: Page, problems: Problems
) -> None:
    page.goto(shop.web.url("/"))
    page.fill('input[name="from"]', "2024-06-10")
    page.fill('input[name="to"]', "2024-06-01")
    page.click("button[type=submit]")
    assert "To: 2024-06-01 is before from (2024-06-10)" in page.inner_text("main")

    page.fill('input[name="to"]', "2024-06-20")
    page.select_option('select[name="kind"]', "sales_by_product")
    page.click("button[type=submit]")

    page.wait_for_url("**/reports/*")
    report_id = page.url.rsplit("/", 1)[1]
    assert "Report requested" in page.inner_text("main")
    assert load_report(shop.session_factory, report_id).parameters == {
        "from": "2024-06-10",
        "to": "2024-06-20",
    }
    screenshot(page, "shop-report-page")
    # Chromium logs the deliberate 422 of the re-rendered form; nothing else may appear.
    assert [message for message in problems.messages if "status of 422" not in message] == []


def test_the_signup_form_signs_people_up(shop: Shop, page: Page, problems: Problems) -> None:
    page.goto(shop.web.url("/signup"))
    page.fill('input[name="email"]', "ann@example.org")
    page.fill('input[name="name"]', "Ann Lee")
    page.click("button[type=submit]")

    assert "Welcome, Ann Lee" in page.inner_text("h1")
    screenshot(page, "shop-signed-up")
    assert problems.messages == []


def test_a_report_being_built_shows_a_progress_bar_that_moves(
    shop: Shop, page: Page, problems: Problems, redis_url: str
) -> None:
    report_id = shop.request_report()
    jid = load_report(shop.session_factory, report_id).job_id
    assert jid is not None
    mark_processing(shop.session_factory, report_id)
    # What the worker's ProgressRecorder writes for the job's self.progress(...) calls.
    client = redis.Redis.from_url(redis_url)
    sink = RedisSink(client)
    sink.write(jid, progress.Update(6, 30, "2024-06-06 summed", time.time()))
    page.goto(shop.web.url(f"/reports/{report_id}"))
    bar = page.locator(f'tr[data-report-id="{report_id}"] [data-field="progress"]')
    text = bar.locator('[data-field="progress-text"]')

    expect(text).to_have_text("20%")
    assert bar.locator("progress").get_attribute("max") == "100"
    expect(bar.locator("progress")).to_have_js_property("value", 20)
    screenshot(page, "shop-report-progress-20")
    sink.write(jid, progress.Update(24, 30, "2024-06-24 summed", time.time()))
    expect(text).to_have_text("80%")
    expect(bar.locator("progress")).to_have_js_property("value", 80)
    assert bar.get_attribute("title") == "2024-06-24 summed"
    screenshot(page, "shop-report-progress-80")

    with testing.fake():
        ProcessReportJob.perform_now(report_id)

    page.locator(f'tr[data-report-id="{report_id}"][data-status="done"]').wait_for()
    expect(bar).to_be_hidden()
    client.close()
    assert problems.messages == []
