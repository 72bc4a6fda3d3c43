"""`make dev`'s launcher itself: what it prints, what it serves, and that Ctrl-C, SIGTERM
or its own sudden death leave no process behind. Each test starts its own small stack
(one worker process, no seeded orders), so these run only under `make dev`'s launcher,
not against a Compose stack."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.dev import processes
from tests.stack.dev_stack import READY_LINE, DevStack
from tests.stack.stack import URL_VARIABLES
from tests.support.polling import wait_for
from tests.support.web_server import http

pytestmark = pytest.mark.skipif(
    any(os.environ.get(name) for name in URL_VARIABLES),
    reason="the launcher tests start `make dev` stacks of their own",
)

SMALL = {"DEV_SEED_ORDERS": "0", "SIDEQUEST_CONCURRENCY": "2"}


@pytest.fixture
def small_stack(tmp_path: Path) -> Iterator[DevStack]:
    stack = DevStack(tmp_path / "dev", workers=1, spares=0, extra_env=SMALL)
    yield stack
    stack.stop(check=False)  # after a failure: end whatever is left


def session_pids(stack: DevStack) -> list[int]:
    return processes.session_members(stack.supervisord_pid())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_it_prints_every_url_serves_them_and_stops_cleanly(
    small_stack: DevStack, signum: int
) -> None:
    stack = small_stack.start()
    output = stack.output()
    urls = {
        "shop": f"{stack.web_url}/",
        "dashboard": f"{stack.web_url}/sidequest/",
        "web metrics": f"{stack.web_url}/metrics",
        "worker metrics": stack.worker_metrics_url,
        "prometheus": f"{stack.prometheus_url}/",
        "mail": f"{stack.mail_url}/",
    }
    for name, url in urls.items():
        assert re.search(rf"^  {name} +{re.escape(url)}", output, re.MULTILINE), (name, output)
        assert http("GET", url).status == 200, name
    assert stack.redis_url in output
    assert "no login: dev mode" in output
    # The liveness probe Compose runs in worker containers sees this host's worker.
    probe = subprocess.run(
        [sys.executable, "-m", "worker.healthcheck"],
        env={**os.environ, "REDIS_URL": stack.redis_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "healthy: 1 worker processes" in probe.stdout
    # The redis-server, Prometheus, mail sink, exporter, gunicorn (master and two
    # workers), the worker and the event listener, all in supervisord's session.
    running = session_pids(stack)
    assert len(running) >= 9, [processes.describe(pid) for pid in running]

    printed = stack.stop(signum)  # asserts status 0 and that nothing is left
    assert f"{signal.Signals(signum).name}: stopping every program" in printed
    assert not [pid for pid in running if processes.session_of(pid) is not None]


def test_a_killed_launcher_takes_the_stack_with_it(small_stack: DevStack) -> None:
    """SIGKILL cannot be caught: the kernel tells supervisord (PR_SET_PDEATHSIG), which
    then stops every program as on Ctrl-C."""
    stack = small_stack.start()
    session = stack.supervisord_pid()
    assert stack.process is not None
    stack.process.kill()
    wait_for(
        lambda: not processes.session_members(session),
        timeout=60,
        interval=0.1,
        message="every program of the stack to stop",
    )
    assert not stack.processes_naming_dev_dir()


def test_it_uses_the_redis_named_by_redis_url(tmp_path: Path, redis_url: str) -> None:
    with DevStack(
        tmp_path / "dev", workers=1, spares=0, extra_env={**SMALL, "REDIS_URL": redis_url}
    ) as stack:
        status = stack.supervisorctl("status")
        assert "redis " not in status and "workers:worker_00" in status, status
        assert f"  redis           {redis_url}" in stack.output()
        answer = http(
            "POST",
            f"{stack.web_url}/api/reports",
            json_body={"kind": "sales_by_day", "from": "2025-01-01", "to": "2025-01-31"},
        )
        assert answer.status == 202
        report_id = answer.json()["id"]
        wait_for(
            lambda: (
                http("GET", f"{stack.web_url}/api/reports/{report_id}").json()["status"] == "done"
            ),
            timeout=60,
            interval=0.1,
            message="the report, built by the stack's worker from the given Redis",
        )


def test_a_program_that_cannot_start_is_reported_and_everything_stops(tmp_path: Path) -> None:
    stack = DevStack(
        tmp_path / "dev", workers=1, spares=0, extra_env={**SMALL, "GUNICORN_WORKERS": "zero"}
    )
    stack.launch()
    try:
        status = stack.wait_for_exit(timeout=90)
    finally:
        output = stack.stop(check=False)
    assert status == 1, output
    assert "the stack did not start" in output
    assert "GUNICORN_WORKERS must be a whole number" in output, "the web log's last lines"
    assert READY_LINE not in output
    assert not stack.processes_naming_dev_dir()
