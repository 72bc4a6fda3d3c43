"""Sidekiq's own Web UI (Debian's Sidekiq 6.4.1, served by rackup) shows what our
workers put in Redis (issue 6, part 4): every page answers 200 and names our job
classes, errors and processes; its /stats JSON matches `sidequest.api`.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from sidequest import api
from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker, identity_of
from tests.interop.web_ui import SidekiqWeb
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess


@dataclass
class Scene:
    worker: WorkerProcess
    identity: str
    held_jid: str
    retry_jids: list[str]
    dead_jid: str
    scheduled_jid: str
    backlog_jids: list[str]


@pytest.fixture(scope="module")
def scene(start_worker: StartWorker, enqueue_to: str, store: redis.Redis) -> Iterator[Scene]:
    store.set(jobs.BROKEN, "1")
    store.set(jobs.HOLD, "1")
    retry_jids = [jobs.FlakyReportJob.perform_later(100 + n).jid for n in range(2)]
    dead_jid = jobs.DoomedReportJob.perform_later(200).jid
    scheduled_jid = jobs.ProcessReportJob.perform_in(3600, 300, {"format": "csv"}).jid
    backlog = [jobs.ProcessReportJob.set(queue="backlog").perform_later(400 + n) for n in range(2)]
    held = jobs.HeldReportJob.perform_later(600, 120.0)
    worker = start_worker("-q", "reports", "-c", "2", "--tag", "web")
    try:
        wait_for(
            lambda: store.zcard("retry") == 2 and store.zcard("dead") == 1,
            timeout=20,
            message="failures recorded",
        )
        identity = wait_for(lambda: identity_of(store, worker.pid), message="heartbeat")
        wait_for(lambda: store.hget(identity, "busy") == "1", message="held job running")
        yield Scene(
            worker,
            identity,
            held.jid,
            retry_jids,
            dead_jid,
            scheduled_jid,
            [job.jid for job in backlog],
        )
    finally:
        store.delete(jobs.HOLD)


@pytest.fixture(scope="module")
def web(scene: Scene, redis_url: str, interop_dir: Path) -> Iterator[SidekiqWeb]:
    server = SidekiqWeb.start(redis_url, interop_dir / "web-ui.log")
    yield server
    server.stop()


@pytest.mark.parametrize(
    "path", ["/", "/busy", "/queues", "/queues/backlog", "/retries", "/scheduled", "/morgue"]
)
def test_every_page_answers_200(web: SidekiqWeb, path: str) -> None:
    page = web.get(path)
    assert page.status == 200, page.body[:2000]


def test_stats_json_matches_our_api(web: SidekiqWeb, api_client: redis.Redis) -> None:
    theirs = json.loads(web.get("/stats").body)["sidekiq"]
    mine = api.Stats(api_client).snapshot()

    assert theirs["processed"] == mine.processed == 3
    assert theirs["failed"] == mine.failed == 3
    assert theirs["busy"] == mine.busy == 1
    assert theirs["processes"] == mine.processes == 1
    assert theirs["enqueued"] == mine.enqueued == 2
    assert theirs["scheduled"] == mine.scheduled == 1
    assert theirs["retries"] == mine.retries == 2
    assert theirs["dead"] == mine.dead == 1
    assert json.loads(web.get("/stats/queues").body) == {"backlog": 2, "reports": 0}


def test_dashboard_shows_todays_counts(web: SidekiqWeb) -> None:
    text = web.get("/").text
    # The summary bar: processed, failed, busy, enqueued, retries, scheduled, dead.
    assert re.search(r"3\s+Processed\s+3\s+Failed\s+1\s+Busy\s+2\s+Enqueued", text), text[:3000]


def test_queues_pages_show_our_queue_and_jobs(web: SidekiqWeb, scene: Scene) -> None:
    queues = web.get("/queues").text
    assert re.search(r"backlog\s+2\b", queues)

    backlog = web.get("/queues/backlog").text
    assert "ProcessReportJob" in backlog
    for jid in scene.backlog_jids:
        assert jid in web.get("/queues/backlog").body
    assert "400" in backlog and "401" in backlog


def test_retries_pages_show_our_errors(
    web: SidekiqWeb, scene: Scene, api_client: redis.Redis
) -> None:
    retries = web.get("/retries").text
    assert retries.count("FlakyReportJob") == 2
    assert "tests.interop.interop_jobs.ReportBrokenError: report 100 is broken" in retries
    assert "tests.interop.interop_jobs.ReportBrokenError: report 101 is broken" in retries

    entry = api.RetrySet(api_client).find_job(scene.retry_jids[0])
    assert entry is not None
    detail = web.get(f"/retries/{entry.score}-{entry.jid}")
    assert detail.status == 200
    assert scene.retry_jids[0] in detail.text
    assert "report 100 is broken" in detail.text
    # Sidekiq decoded our error_backtrace (base64 of zlib of JSON lines).
    assert "interop_jobs.py" in detail.text and "in `perform'" in detail.text


def test_scheduled_page_shows_our_job(web: SidekiqWeb, scene: Scene) -> None:
    page = web.get("/scheduled")
    assert "ProcessReportJob" in page.text
    assert scene.scheduled_jid in page.body
    assert "csv" in page.text


def test_morgue_shows_our_dead_job(web: SidekiqWeb, scene: Scene) -> None:
    page = web.get("/morgue").text
    assert "DoomedReportJob" in page
    assert "tests.interop.interop_jobs.ReportBrokenError: report 200 can never be built" in page


def test_busy_page_shows_our_process_and_its_running_job(web: SidekiqWeb, scene: Scene) -> None:
    page = web.get("/busy")
    text = page.text
    assert f"{socket.gethostname()}:{scene.worker.pid}" in text
    assert re.search(r"Queues:\s+reports", text)
    assert " web " in text  # the tag label
    assert scene.identity in page.body  # the quiet/stop forms name our identity
    # Processes 1, threads 2, busy 1, utilization 50%.
    assert re.search(r"1\s+Processes\s+2\s+Threads\s+1\s+Busy\s+50%\s+Utilization", text)
    assert "HeldReportJob" in text
    assert scene.held_jid in text
