"""`sidequest web`: the dashboard as a process of its own."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.dashboard_server import ROOT, DashboardServer

EX_CONFIG = 78


def run_web(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SIDEQUEST_WEB")
    }
    return subprocess.run(
        [sys.executable, "-m", "sidequest", "web", "--port", "0", *args],
        cwd=ROOT,
        env={**environment, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,  # the exit status is what the tests look at
    )


def test_without_credentials_it_refuses_to_start(redis_url: str) -> None:
    result = run_web("--redis-url", redis_url)
    assert result.returncode == EX_CONFIG
    assert "needs authentication" in result.stderr
    assert "SIDEQUEST_WEB_DEV=1" in result.stderr


def test_a_dev_run_without_credentials_must_listen_on_loopback(redis_url: str) -> None:
    result = run_web("--redis-url", redis_url, "--dev", "--host", "0.0.0.0")
    assert result.returncode == EX_CONFIG
    assert "refusing to serve the dashboard without authentication on 0.0.0.0" in result.stderr


@pytest.mark.parametrize("spelling", ["on", "Yes", "TRUE", "1"])
def test_sidequest_web_dev_on_in_any_spelling_is_a_dev_run(redis_url: str, spelling: str) -> None:
    # A dev run without credentials: refused on an address other machines reach.
    result = run_web(
        "--redis-url", redis_url, "--host", "0.0.0.0", env={"SIDEQUEST_WEB_DEV": spelling}
    )
    assert result.returncode == EX_CONFIG
    assert "refusing to serve the dashboard without authentication on 0.0.0.0" in result.stderr


@pytest.mark.parametrize("spelling", ["off", "No", "FALSE", "0"])
def test_sidequest_web_dev_off_in_any_spelling_needs_credentials(
    redis_url: str, spelling: str
) -> None:
    result = run_web("--redis-url", redis_url, env={"SIDEQUEST_WEB_DEV": spelling})
    assert result.returncode == EX_CONFIG
    assert "needs authentication" in result.stderr


def test_a_malformed_sidequest_web_dev_is_an_error_naming_it(redis_url: str) -> None:
    result = run_web("--redis-url", redis_url, env={"SIDEQUEST_WEB_DEV": "sure"})
    assert result.returncode == EX_CONFIG
    assert "error: SIDEQUEST_WEB_DEV must be on or off" in result.stderr
    assert "'sure'" in result.stderr


def test_half_configured_credentials_are_a_clear_error(redis_url: str) -> None:
    result = run_web("--redis-url", redis_url, env={"SIDEQUEST_WEB_USERNAME": "admin"})
    assert result.returncode == EX_CONFIG
    assert "set both SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD" in result.stderr


@pytest.mark.parametrize("dev", [False, True])
def test_it_serves_the_dashboard(redis_url: str, tmp_path: Path, dev: bool) -> None:
    env = (
        {"SIDEQUEST_WEB_DEV": "1"}
        if dev
        else {"SIDEQUEST_WEB_USERNAME": "u", "SIDEQUEST_WEB_PASSWORD": "p"}
    )
    server = DashboardServer(redis_url, tmp_path / "web.log", env).start()
    try:
        request = urllib.request.Request(server.url + "stats.json")
        if not dev:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 401
            refused.value.close()
            token = base64.b64encode(b"u:p").decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert b'"processed"' in response.read()
        static = urllib.request.Request(server.url + "static/dashboard.js")
        if not dev:
            static.add_header("Authorization", request.get_header("Authorization") or "")
        with urllib.request.urlopen(static, timeout=10) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        server.stop()
