"""Actions through the browser: buttons and forms change Redis, and the live graph moves
when a real worker runs jobs."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import redis
from playwright.sync_api import Page, expect

from sidequest import payload
from tests.browser.conftest import Dialogs, Problems, screenshot
from tests.browser.dashboard_server import DashboardServer
from tests.integration.dashboard import seed
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess


def test_retry_now_moves_a_job_from_retries_to_its_queue(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    item = seed.failed("FlakyJob", "connection reset", queue="mailers")
    seed.add_to_set(db, "retry", item, time.time() + 600)
    page.goto(dashboard.url + "retries")
    page.get_by_role("link", name="FlakyJob").click()
    expect(page.locator("h1")).to_have_text("FlakyJob")
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator(".notice")).to_have_text("Retried 1 job.")
    expect(page.locator(".empty")).to_have_text("Retries is empty.")
    assert db.zcard("retry") == 0
    assert json.loads(db.lindex("queue:mailers", 0))["jid"] == item["jid"]
    page.goto(dashboard.url + "queues/mailers")
    expect(page.locator("td .muted", has_text=item["jid"])).to_be_visible()
    assert problems.messages == []


def test_delete_and_kill_from_the_entry_page(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    doomed = seed.failed("DeleteMeJob")
    killed = seed.failed("KillMeJob")
    seed.add_to_set(db, "retry", doomed, time.time() + 60)
    seed.add_to_set(db, "retry", killed, time.time() + 120)
    page.goto(dashboard.url + "retries")
    page.get_by_role("link", name="DeleteMeJob").click()
    page.get_by_role("button", name="Delete").click()  # confirm() is accepted
    expect(page.locator(".notice")).to_have_text("Deleted 1 job.")
    page.get_by_role("link", name="KillMeJob").click()
    page.get_by_role("button", name="Kill").click()
    expect(page.locator(".notice")).to_have_text("Killed 1 job.")
    assert db.zcard("retry") == 0
    dead = [json.loads(raw) for raw in db.zrange("dead", 0, -1)]
    assert [entry["jid"] for entry in dead] == [killed["jid"]]
    page.goto(dashboard.url + "dead")
    expect(page.get_by_role("link", name="KillMeJob")).to_be_visible()
    assert problems.messages == []


def test_a_dismissed_confirmation_changes_nothing(
    dashboard: DashboardServer, page: Page, dialogs: Dialogs, db: redis.Redis
) -> None:
    seed.add_to_set(db, "dead", seed.failed("StayJob"), time.time())
    page.goto(dashboard.url + "dead")
    page.get_by_role("link", name="StayJob").click()
    entry_url = page.url
    dialogs.accept = False
    page.get_by_role("button", name="Delete").click()
    assert dialogs.seen == ["Delete this job?"]
    assert page.url == entry_url
    assert db.zcard("dead") == 1


def test_bulk_actions_apply_to_the_selected_entries_only(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    items = [seed.failed(f"Bulk{n}Job", queue="bulk") for n in range(4)]
    for n, item in enumerate(items):
        seed.add_to_set(db, "retry", item, time.time() + 60 * (n + 1))
    page.goto(dashboard.url + "retries")
    retry_button = page.locator(".selection-actions button", has_text="Retry now")
    expect(retry_button).to_be_disabled()
    page.get_by_label("Select Bulk1Job").check()
    page.get_by_label("Select Bulk3Job").check()
    expect(page.locator("[data-selection-count]")).to_have_text("2 entries selected")
    retry_button.click()
    expect(page.locator(".notice")).to_have_text("Retried 2 jobs.")
    queued = {json.loads(raw)["jid"] for raw in db.lrange("queue:bulk", 0, -1)}
    assert queued == {items[1]["jid"], items[3]["jid"]}

    page.get_by_label("Select every entry on this page").check()
    expect(page.locator("[data-selection-count]")).to_have_text("2 entries selected")
    page.locator(".selection-actions button", has_text="Kill").click()
    expect(page.locator(".notice")).to_have_text("Killed 2 jobs.")
    assert db.zcard("retry") == 0 and db.zcard("dead") == 2
    screenshot(page, "after-bulk-kill")
    assert problems.messages == []


def test_queue_page_deletes_a_job_and_clears_the_queue(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    jobs = [seed.job("QueuedJob", [n], queue="work") for n in range(3)]
    for job in jobs:
        seed.enqueue(db, job)
    page.goto(dashboard.url + "queues/work")
    row = page.locator("tr", has_text=jobs[1]["jid"])
    row.get_by_role("button", name="Delete").click()
    expect(page.locator(".notice")).to_have_text(f"Deleted job {jobs[1]['jid']}.")
    assert db.llen("queue:work") == 2
    page.get_by_role("button", name="Clear queue").click()
    expect(page.locator(".notice")).to_contain_text("Cleared queue work (2 jobs).")
    assert db.llen("queue:work") == 0
    assert problems.messages == []


def test_filtering_a_list_in_the_browser(
    dashboard: DashboardServer, page: Page, db: redis.Redis
) -> None:
    seed.add_to_set(db, "dead", seed.failed("InvoiceJob", "card declined"), time.time())
    seed.add_to_set(db, "dead", seed.failed("EmailJob", "smtp down"), time.time() - 5)
    page.goto(dashboard.url + "dead")
    page.get_by_placeholder("Filter by class or payload").fill("declined")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="InvoiceJob")).to_be_visible()
    expect(page.get_by_role("link", name="EmailJob")).to_have_count(0)
    expect(page.locator(".scan-note")).to_contain_text("1 match after examining 2 of 2")


def test_the_live_graph_moves_after_a_real_worker_runs_jobs(
    dashboard: DashboardServer,
    page: Page,
    problems: Problems,
    redis_url: str,
    tmp_path: Path,
) -> None:
    page.goto(dashboard.url + "?poll=1")
    graph = page.locator("#live-graph")
    expect(graph).to_have_attribute("data-samples", re.compile(r"^[1-9]"))
    expect(graph).to_have_attribute("data-last-processed", "0")

    client = redis.Redis.from_url(redis_url)
    for n in range(25):
        seed.enqueue(client, seed.job("RecordJob", [n]))
    worker = WorkerProcess(redis_url, tmp_path / "worker.log", args=["-c", "5"]).start()
    try:
        wait_for(lambda: client.get("stat:processed") == b"25", timeout=20, message="25 jobs")
        # Some poll after the jobs ran reports them: the processed line leaves the baseline.
        expect(page.locator("[data-stat=processed]")).to_have_text("25", timeout=15_000)
        expect(graph.locator("#live-peak")).to_have_text(re.compile(r"^peak [1-9]\d* per 1 s$"))
        points = graph.locator(".series.processed").get_attribute("points") or ""
        heights = [float(point.split(",")[1]) for point in points.split()]
        assert min(heights) < 170, points
        screenshot(page, "live-graph")
    finally:
        worker.stop()
        client.close()
    assert problems.messages == []


def test_the_poll_interval_is_adjustable_and_bounded(
    dashboard: DashboardServer, page: Page, problems: Problems
) -> None:
    page.goto(dashboard.url)
    page.evaluate("window.localStorage.setItem('sidequest.pollSeconds', '0')")
    page.reload()
    expect(page.locator("#poll-interval")).to_have_value("5")  # the stored 0 is ignored
    page.locator("#poll-interval").select_option("2")
    assert page.evaluate("window.localStorage.getItem('sidequest.pollSeconds')") == "2"
    page.reload()
    expect(page.locator("#poll-interval")).to_have_value("2")
    assert problems.messages == []


def test_attack_strings_render_as_text(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    from tests.integration.dashboard.test_security import seed_xss

    queue = seed_xss(db)
    paths = ["", "busy", "queues", "queues/" + queue, "retries", "scheduled", "dead", "metrics"]
    for path in paths:
        page.goto(dashboard.url + quote(path))
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("body img").count() == 0, path
    page.goto(dashboard.url + "retries")
    first_class = page.locator("a.job-class").first.inner_text()
    assert first_class in (seed.XSS_SCRIPT, seed.XSS_IMG, seed.XSS_URL)
    expect(page.locator("a.job-class", has_text=seed.XSS_SCRIPT)).to_have_count(1)
    page.locator("a.job-class", has_text=seed.XSS_IMG).click()
    expect(page.locator("h1")).to_have_text(seed.XSS_IMG)
    expect(page.locator(".error-text").first).to_have_text(seed.XSS_IMG)
    assert page.evaluate("window.__xss") is None
    page.goto(dashboard.url + "busy")
    expect(page.locator(".tag").first).to_have_text(seed.XSS_IMG)
    expect(page.locator(".queue-name", has_text=seed.XSS_URL).first).to_be_visible()
    screenshot(page, "xss-busy")
    assert page.evaluate("window.__xss") is None
    payload.decode(db.lindex(f"queue:{queue}", 0))  # the data itself was untouched
    assert problems.messages == []


def test_pause_resume_and_cancel_through_the_buttons(
    dashboard: DashboardServer, page: Page, problems: Problems, db: redis.Redis
) -> None:
    jobs = [seed.job("QueuedJob", [n], queue="work") for n in range(2)]
    for job in jobs:
        seed.enqueue(db, job)
    page.goto(dashboard.url + "queues")
    row = page.locator("tr", has_text="work")
    row.get_by_role("button", name="Pause").click()  # confirm() is accepted
    expect(page.locator(".notice")).to_contain_text("Paused queue work")
    expect(page.locator("tr", has_text="work").locator(".tag")).to_have_text("paused")
    assert db.smembers("paused") == {b"work"}
    screenshot(page, "queues-paused")

    page.goto(dashboard.url + "queues/work")
    row = page.locator("tr", has_text=jobs[0]["jid"])
    row.get_by_role("button", name="Cancel").click()
    expect(page.locator(".notice")).to_have_text(
        f"Cancelled {jobs[0]['jid']}: removed from queue:work."
    )
    assert db.llen("queue:work") == 1
    page.get_by_role("button", name="Resume queue").click()
    expect(page.locator(".notice")).to_have_text("Resumed queue work.")
    assert not db.exists("paused")
    assert problems.messages == []
