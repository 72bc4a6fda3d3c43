"""web/gunicorn.conf.py: settings from the environment, and a real gunicorn serving the app."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.web_server import GunicornServer, http

CONFIG = Path(__file__).resolve().parents[3] / "web" / "gunicorn.conf.py"


def load_config(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict[str, object]:
    # Empty counts as unset; setenv (unlike delenv of an unset name) is undone after the
    # test even when the config file writes the variable itself.
    for name in ("BIND", "PORT", "GUNICORN_WORKERS", "GUNICORN_THREADS", "SECRET_KEY"):
        monkeypatch.setenv(name, "")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_the_defaults_bind_every_interface_on_8000(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(monkeypatch, SECRET_KEY="set")
    assert config["bind"] == "0.0.0.0:8000"
    assert (config["workers"], config["threads"], config["worker_class"]) == (2, 4, "gthread")
    assert config["graceful_timeout"] == 30
    assert config["max_requests"] == 0


def test_workers_threads_and_address_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_config(
        monkeypatch, GUNICORN_WORKERS="3", GUNICORN_THREADS="8", PORT="9000", SECRET_KEY="set"
    )
    assert (config["workers"], config["threads"], config["bind"]) == (3, 8, "0.0.0.0:9000")
    bound = load_config(monkeypatch, BIND="127.0.0.1:7000", PORT="9000", SECRET_KEY="set")
    assert bound["bind"] == "127.0.0.1:7000"


@pytest.mark.parametrize(
    ("name", "value"),
    [("GUNICORN_WORKERS", "0"), ("GUNICORN_WORKERS", "two"), ("GUNICORN_THREADS", "-1"),
     ("PORT", "70000")],
)  # fmt: skip
def test_a_malformed_number_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=name):
        load_config(monkeypatch, **{name: value})


def test_without_a_secret_key_all_workers_share_one_generated_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_config(monkeypatch)
    assert len(os.environ["SECRET_KEY"]) == 64


def test_child_exit_marks_dead_workers_for_prometheus_multiprocess_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_config(monkeypatch, SECRET_KEY="set")
    live_gauge = tmp_path / "gauge_livesum_4242.db"
    other = tmp_path / "counter_4242.db"
    live_gauge.write_bytes(b"")
    other.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    class Worker:
        pid = 4242

    config["child_exit"](None, Worker())  # type: ignore[operator]

    assert not live_gauge.exists()
    assert other.exists()


def app_environment(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "gunicorn-test",
    }


def test_gunicorn_serves_the_app_and_stops_gracefully(tmp_path: Path, redis_url: str) -> None:
    env = app_environment(tmp_path, redis_url)
    server = GunicornServer(env, tmp_path / "gunicorn.log", workers=2).start()
    try:
        assert http("GET", server.url("/readyz")).json()["status"] == "ready"
        answer = http(
            "POST",
            server.url("/api/reports"),
            json_body={"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-02"},
        )
        assert answer.status == 202
        assert http("GET", server.url(f"/api/reports/{answer.json()['id']}")).status == 200
    finally:
        code = server.stop()
    assert code == 0
    assert "Handling signal: term" in server.log()


def test_the_app_logs_in_the_format_log_format_names(tmp_path: Path, redis_url: str) -> None:
    env = {
        **app_environment(tmp_path, redis_url),
        "LOG_FORMAT": "json",
        "SIDEQUEST_WEB_USERNAME": "",  # so the app logs its warning that the dashboard is off
    }
    with GunicornServer(env, tmp_path / "gunicorn.log") as server:
        assert http("GET", server.url("/healthz")).status == 200
    records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    warning = next(record for record in records if "dashboard is off" in record["msg"])
    assert (warning["level"], warning["logger"]) == ("WARNING", "web.dashboard")


@pytest.mark.parametrize(("name", "value"), [("LOG_FORMAT", "xml"), ("MIGRATE_ON_START", "maybe")])
def test_a_bad_setting_stops_gunicorn_with_one_line_and_status_78(
    tmp_path: Path, redis_url: str, name: str, value: str
) -> None:
    env = {
        **os.environ,
        **app_environment(tmp_path, redis_url),
        "PYTHONPATH": str(CONFIG.parents[1]),
        "BIND": "127.0.0.1:0",
        name: value,
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "web.wsgi:app"],
        cwd=CONFIG.parents[1], env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 78, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert name in result.stderr or value in result.stderr
    assert "Traceback" not in result.stderr
