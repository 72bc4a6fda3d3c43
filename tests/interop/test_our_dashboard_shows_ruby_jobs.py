"""Our dashboard (sidequest.dashboard) shows what Ruby wrote: Rails' ActiveJob payloads,
Sidekiq 8 payloads, a real Sidekiq process and its failures; and its quiet/stop buttons
reach that Ruby process. The dashboard works from raw payloads and never imports job
classes, so none of these Ruby classes exists in Python here.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from sidequest.dashboard import Dashboard
from tests.interop.payloads import push, sidekiq8_job
from tests.interop.ruby_console import RubyConsole
from tests.interop.sidekiq_process import SidekiqProcess
from tests.support.polling import wait_for

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:interop-pass").decode()}
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture(scope="module")
def dashboard(redis_url: str) -> Iterator[FlaskClient]:
    app = Flask("interop-dashboard")
    app.secret_key = "interop-secret"
    app.config.update(SIDEQUEST_WEB_USERNAME="admin", SIDEQUEST_WEB_PASSWORD="interop-pass")
    Dashboard().init_app(app, url_prefix="/sidequest", redis=redis_url)
    with app.test_client() as client:
        yield client


def page(dashboard: FlaskClient, path: str) -> str:
    response = dashboard.get("/sidequest" + path, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_data(as_text=True)


def press(dashboard: FlaskClient, action: str, identity: str) -> None:
    token = _TOKEN.search(page(dashboard, "/busy"))
    assert token is not None
    response = dashboard.post(
        "/sidequest/busy/signal",
        data={"action": action, "identity": identity, "csrf_token": token[1]},
        headers=AUTH,
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]


@pytest.fixture(scope="module")
def sidekiq(redis_url: str, interop_dir: Path) -> Iterator[SidekiqProcess]:
    process = SidekiqProcess.start(redis_url, interop_dir / "sidekiq.log")
    yield process
    process.stop()


def test_activejob_payloads_of_both_wrappers_show_their_job_class(
    rails: RubyConsole, api_client: redis.Redis, dashboard: FlaskClient
) -> None:
    rails.run("ProcessReportJob.set(queue: 'rails').perform_later(42, 'from-rails')")
    enqueued = time.time() - 30
    push(api_client, sidekiq8_job([5, "from-sidekiq-8"], queue="rails", at=enqueued))

    html = page(dashboard, "/queues/rails")
    assert re.findall(r'class="job-class">([^<]+)<', html) == ["ProcessReportJob"] * 2
    assert "from-rails" in html and "from-sidekiq-8" in html
    assert "Wrapper" not in html  # neither wrapper class is shown in place of the job
    # The Sidekiq 8 job's integer milliseconds are read as the moment they stand for.
    iso = datetime.fromtimestamp(int(enqueued * 1000) / 1000, UTC).isoformat(timespec="seconds")
    assert f'datetime="{iso.replace("+00:00", "Z")}"' in html
    assert re.search(r">3\d seconds ago<", html)


def test_a_ruby_process_and_its_failures_show(
    sidekiq: SidekiqProcess, ruby: RubyConsole, dashboard: FlaskClient
) -> None:
    busy = page(dashboard, "/busy")
    assert f"{socket.gethostname()}:{sidekiq.pid}" in busy
    assert sidekiq.identity in busy

    jid = ruby.run(
        "Sidekiq::Client.push('class' => 'InteropFailingJob', 'queue' => 'ruby', 'args' => [1])"
    )
    wait_for(lambda: ruby.run(f"Sidekiq::RetrySet.new.find_job('{jid}')"), message="a retry")
    retries = page(dashboard, "/retries")
    assert "InteropFailingJob" in retries and jid in retries
    assert "ArgumentError" in retries and "ruby refuses [1]" in retries


def test_quiet_and_stop_buttons_reach_a_ruby_sidekiq_process(
    redis_url: str, interop_dir: Path, store: redis.Redis, dashboard: FlaskClient
) -> None:
    target = SidekiqProcess.start(redis_url, interop_dir / "sidekiq-target.log", queues=("x",))
    try:
        press(dashboard, "quiet", target.identity)
        # Sidekiq reads its signals on its heartbeat (every second here, see interop_job.rb).
        wait_for(
            lambda: store.hget(target.identity, "quiet") == "true",
            timeout=15,
            message="Sidekiq to go quiet",
        )
        press(dashboard, "stop", target.identity)
        wait_for(lambda: not target.child.running(), timeout=20, message="Sidekiq to exit")
        assert target.child.process.returncode == 0
        assert target.identity not in store.smembers("processes")
    finally:
        target.stop()
