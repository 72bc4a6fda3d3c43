"""`make dev`'s configuration (infra/dev): settings, the supervisord.conf and prometheus.yml
it writes (checked by supervisor's own parser and by promtool), the dashboard login rule,
the mail sink's storage and pages, and the launcher refusing bad input up front."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.dev import prometheus_config, supervisor_config
from infra.dev.access import dashboard_access
from infra.dev.layout import Layout
from infra.dev.mailbox import Mailbox, UnknownMessage
from infra.dev.mailsink import handler_for, parse_arguments
from infra.dev.programs import Binaries, build_programs, stack_environment
from infra.dev.settings import DevConfigError, DevSettings
from tests.infra.conftest import REPO, load_yaml
from tests.support.ports import free_port
from tests.support.web_server import http

SHUTDOWN_TIMEOUT = 10


def settings_for(tmp_path: Path, **variables: str) -> DevSettings:
    return DevSettings.from_env({"DEV_DIR": str(tmp_path / "dev"), **variables}, root=REPO)


def written_config(tmp_path: Path, **variables: str) -> tuple[DevSettings, Path]:
    """supervisord.conf as the launcher writes it, with both optional programs present."""
    settings = settings_for(tmp_path, **variables)
    layout = Layout(settings.dev_dir)
    layout.prepare()
    environment = stack_environment(settings, layout, {}, "secret")
    binaries = Binaries(
        python=sys.executable,
        redis_server=None if settings.external_redis_url else "/usr/bin/redis-server",
        prometheus="/usr/bin/prometheus",
    )
    programs = build_programs(settings, layout, environment, binaries)
    layout.supervisor_config.write_text(supervisor_config.render(programs, layout, str(REPO)))
    return settings, layout.supervisor_config


def parsed(path: Path) -> Any:
    from supervisor.options import ServerOptions

    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    return options


def groups(options: Any) -> dict[str, Any]:
    return {group.name: group for group in options.process_group_configs}


# ------------------------------------------------------------------ settings


def test_defaults(tmp_path: Path) -> None:
    settings = DevSettings.from_env({}, root=tmp_path)
    assert settings.dev_dir == tmp_path / "var" / "dev"
    assert (settings.ports.web, settings.ports.worker_metrics) == (8000, 9191)
    assert (settings.worker_processes, settings.spare_worker_processes) == (2, 2)
    assert settings.scrape_interval == "15s"
    assert settings.web_on_loopback and settings.external_redis_url is None


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"WORKER_PROCESSES": "0"}, "WORKER_PROCESSES"),
        ({"WORKER_PROCESSES": "two"}, "WORKER_PROCESSES"),
        ({"WEB_PORT": "70000"}, "WEB_PORT"),
        ({"WEB_PORT": "9191"}, "METRICS_PORT and WEB_PORT"),
        ({"PROMETHEUS_SCRAPE_INTERVAL": "fast"}, "PROMETHEUS_SCRAPE_INTERVAL"),
        ({"PROMETHEUS_SCRAPE_INTERVAL": "50ms"}, "PROMETHEUS_SCRAPE_INTERVAL"),
        ({"WEB_HOST": "example.org"}, "WEB_HOST"),
        ({"DEV_DIR": "/tmp/with%percent"}, "DEV_DIR"),
        ({"DEV_DIR": "/tmp/" + "x" * 120}, "DEV_DIR"),
        ({"SIDEQUEST_WEB_DEV": "sure"}, "SIDEQUEST_WEB_DEV"),
    ],
)
def test_malformed_settings_are_named(variables: dict[str, str], named: str) -> None:
    with pytest.raises(DevConfigError) as raised:
        DevSettings.from_env(variables, root=REPO)
    assert all(part in str(raised.value) for part in named.split(" and "))


def test_redis_port_may_repeat_when_redis_is_not_started(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, REDIS_URL="redis://elsewhere:6379/0", REDIS_PORT="8000")
    assert settings.external_redis_url == "redis://elsewhere:6379/0"


# ------------------------------------------------------------------ supervisord.conf


def test_supervisor_accepts_the_written_config(tmp_path: Path) -> None:
    settings, path = written_config(tmp_path, WORKER_PROCESSES="3", SPARE_WORKER_PROCESSES="2")
    options = parsed(path)
    assert options.nodaemon
    by_name = groups(options)
    assert set(by_name) == {"procwatch", "redis", "services", "web", "workers"}
    workers = {config.name: config for config in by_name["workers"].process_configs}
    assert sorted(workers) == ["spare_00", "spare_01", "worker_00", "worker_01", "worker_02"]
    assert all(workers[f"worker_0{n}"].autostart for n in range(3))
    assert not workers["spare_00"].autostart, "spares wait for supervisorctl start"
    for config in workers.values():
        assert config.stopasgroup and config.killasgroup
        assert config.stopwaitsecs > SHUTDOWN_TIMEOUT, "SIGKILL only after the graceful stop"
        assert config.environment["PROMETHEUS_MULTIPROC_DIR"].endswith("multiproc/worker")
    services = {config.name for config in by_name["services"].process_configs}
    assert services == {"mail", "prometheus", "worker_metrics"}
    (web,) = by_name["web"].process_configs
    assert web.environment["PROMETHEUS_MULTIPROC_DIR"].endswith("multiproc/web")
    assert web.environment["BIND"] == f"127.0.0.1:{settings.ports.web}"
    # Up in this order, down in the reverse: the listener sees every exit, Redis outlives
    # the workers pushing their jobs back.
    order = ["procwatch", "redis", "services", "web", "workers"]
    assert sorted(order, key=lambda name: by_name[name].priority) == order


def test_with_redis_url_no_redis_server_is_started(tmp_path: Path) -> None:
    _settings, path = written_config(tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert "redis" not in groups(parsed(path))


def test_every_program_gets_the_stack_environment(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, WEB_PORT="8100", SMTP_PORT="2525")
    layout = Layout(settings.dev_dir)
    exported = {"SIDEQUEST_CONCURRENCY": "3", "REDIS_URL": "", "DATABASE_URL": ""}
    environment = stack_environment(settings, layout, exported, "key")
    assert environment["REDIS_URL"] == f"redis://127.0.0.1:{settings.ports.redis}/0"
    assert environment["DATABASE_URL"] == f"sqlite:///{layout.database}"
    assert environment["SMTP_URL"] == "smtp://127.0.0.1:2525"
    assert environment["APP_BASE_URL"] == "http://127.0.0.1:8100"
    assert environment["SIDEQUEST_CONCURRENCY"] == "3", "the user's own settings pass through"
    assert environment["MIGRATE_ON_START"] == "false", "the launcher migrates once"


# ------------------------------------------------------------------ prometheus.yml


def test_promtool_accepts_the_dev_prometheus_config(tmp_path: Path, promtool: Path) -> None:
    settings = settings_for(tmp_path, PROMETHEUS_SCRAPE_INTERVAL="1s", WEB_PORT="8100")
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config.render(settings))
    result = subprocess.run(
        [str(promtool), "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "rules found" in result.stdout  # rules.yml loaded


def test_dev_prometheus_scrapes_the_jobs_the_rules_and_dashboard_select(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, PROMETHEUS_SCRAPE_INTERVAL="1s")
    config = prometheus_config.config(settings)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["web"]["static_configs"] == [{"targets": [f"127.0.0.1:{settings.ports.web}"]}]
    worker_target = f"127.0.0.1:{settings.ports.worker_metrics}"
    assert jobs["worker"]["static_configs"] == [{"targets": [worker_target]}]
    compose_config = load_yaml(REPO / "infra/prometheus/prometheus.yml")
    assert set(jobs) == {job["job_name"] for job in compose_config["scrape_configs"]}
    assert config["rule_files"] == [str(REPO / "infra/prometheus/rules.yml")]
    assert config["global"]["scrape_timeout"] == "1s", "never longer than the interval"
    assert prometheus_config.config(settings_for(tmp_path))["global"]["scrape_timeout"] == "10s"


# ------------------------------------------------------------------ dashboard login


def test_loopback_runs_the_dashboard_in_dev_mode(tmp_path: Path) -> None:
    environment: dict[str, str] = {}
    assert "dev mode" in dashboard_access(settings_for(tmp_path), environment)
    assert environment == {"SIDEQUEST_WEB_DEV": "1"}


def test_a_public_address_gets_a_generated_login(tmp_path: Path) -> None:
    environment: dict[str, str] = {}
    text = dashboard_access(settings_for(tmp_path, WEB_HOST="0.0.0.0"), environment)
    assert environment["SIDEQUEST_WEB_USERNAME"] == "admin"
    assert len(environment["SIDEQUEST_WEB_PASSWORD"]) >= 16
    assert environment["SIDEQUEST_WEB_PASSWORD"] in text, "printed with the URLs"
    assert "SIDEQUEST_WEB_DEV" not in environment


@pytest.mark.parametrize(
    "environment",
    [{"SIDEQUEST_WEB_DEV": "1"}, {"SIDEQUEST_WEB_DEV": "on"}, {"SIDEQUEST_WEB_USERNAME": "ana"}],
    ids=["dev-mode-on-a-public-address", "dev-mode-spelt-on", "half-a-login"],
)
def test_unsafe_or_partial_dashboard_settings_are_refused(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    settings = settings_for(tmp_path, WEB_HOST="0.0.0.0", **environment)
    with pytest.raises(DevConfigError, match="SIDEQUEST_WEB_"):
        dashboard_access(settings, environment)


@pytest.mark.parametrize("spelling", ["0", "off", "No"])
def test_dev_mode_set_off_on_a_public_address_gets_a_generated_login(
    tmp_path: Path, spelling: str
) -> None:
    # Any non-empty value used to count as on, so SIDEQUEST_WEB_DEV=0 was refused here.
    environment = {"SIDEQUEST_WEB_DEV": spelling}
    settings = settings_for(tmp_path, WEB_HOST="0.0.0.0", **environment)
    dashboard_access(settings, environment)
    assert environment["SIDEQUEST_WEB_USERNAME"] == "admin"


# ------------------------------------------------------------------ mail sink


def message(subject: str, to: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Shop <shop@shop.test>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("body\n")
    return bytes(mail)


def test_the_mailbox_keeps_messages_in_order_and_refuses_other_paths(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path)
    first = mailbox.save(message("one", "a@example.org"))
    second = mailbox.save(message("two", "b@example.org"))
    assert (first, second) == ("000001", "000002")
    assert Mailbox(tmp_path).save(message("three", "c@example.org")) == "000003", (
        "numbering goes on"
    )
    page = mailbox.page(0, 2)
    assert page["total"] == 3 and page["count"] == 2
    assert [summary["Subject"] for summary in page["messages"]] == ["three", "two"]
    assert page["messages"][1]["To"] == [{"Name": "", "Address": "b@example.org"}]
    assert page["messages"][1]["From"] == {"Name": "Shop", "Address": "shop@shop.test"}
    assert b"Subject: one" in mailbox.raw(first)
    for bad in ("../secret_key", "000009", "abc"):
        with pytest.raises(UnknownMessage):
            mailbox.raw(bad)


@pytest.fixture
def mail_pages(tmp_path: Path) -> Iterator[tuple[str, Mailbox]]:
    mailbox = Mailbox(tmp_path / "mail")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(mailbox))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", mailbox
    server.shutdown()
    server.server_close()


def test_the_mail_pages_speak_mailpits_api(mail_pages: tuple[str, Mailbox]) -> None:
    url, mailbox = mail_pages
    mail_id = mailbox.save(message("<b>Report</b> ready", "ana@example.org"))
    listing = http("GET", f"{url}/api/v1/messages?start=0&limit=10").json()
    assert listing["total"] == 1 and listing["messages"][0]["ID"] == mail_id
    raw = http("GET", f"{url}/api/v1/message/{mail_id}/raw")
    assert raw.status == 200 and b"ana@example.org" in raw.body
    page = http("GET", f"{url}/")
    assert page.status == 200
    assert b"&lt;b&gt;Report&lt;/b&gt; ready" in page.body, "mail content is escaped"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert http("GET", f"{url}/api/v1/messages?limit=0").status == 400
    assert http("GET", f"{url}/api/v1/message/999999/raw").status == 404


def test_the_sink_process_receives_over_smtp(tmp_path: Path) -> None:
    smtp_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "infra.dev.mailsink", "--smtp-port", str(smtp_port),
            "--http-port", str(http_port), "--maildir", str(tmp_path / "mail"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        ready = process.stdout.readline() if process.stdout else ""
        assert "mail sink: SMTP on" in ready, ready
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.sendmail("shop@shop.test", ["ana@example.org"], message("hi", "ana@example.org"))
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/messages") as answer:
            listing = json.load(answer)
        assert [summary["Subject"] for summary in listing["messages"]] == ["hi"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output


def test_the_sink_listens_on_loopback_unless_given_another_host() -> None:
    required = ["--smtp-port", "1025", "--http-port", "8025", "--maildir", "mail"]
    assert parse_arguments(required).host == "127.0.0.1"
    # The offline stand-in for Mailpit (infra/offline/mailcatcher) listens on every
    # address of its container; tests/compose/test_offline_images.py runs it.
    assert parse_arguments([*required, "--host", "0.0.0.0"]).host == "0.0.0.0"


# ------------------------------------------------------------------ the launcher refuses


def launcher(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DEV_DIR": str(tmp_path / "dev")}
    return subprocess.run(
        [sys.executable, "-m", "infra.dev"],
        cwd=REPO,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_launcher_names_a_busy_port_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = launcher(tmp_path, MAIL_PORT=str(port), REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 78
    assert f"{port} (MAIL_PORT)" in result.stderr
    assert not (tmp_path / "dev" / "supervisord.conf").exists()


def test_the_launcher_names_a_malformed_setting(tmp_path: Path) -> None:
    result = launcher(tmp_path, WORKER_PROCESSES="many")
    assert result.returncode == 78
    assert "WORKER_PROCESSES must be a whole number" in result.stderr


def test_the_rendered_files_are_valid_yaml_and_ini(tmp_path: Path) -> None:
    settings, path = written_config(tmp_path)
    assert path.read_text().startswith("; Written by `make dev`")
    document = yaml.safe_load(prometheus_config.render(settings))
    assert document["global"]["scrape_interval"] == "15s"
