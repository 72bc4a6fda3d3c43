"""tests/compose: docker-compose.yml brought up for real on this machine's Docker.

Collecting this directory makes the session's `stack` the Compose stack (SIDEQUEST_STACK
=compose, tests/stack/stack.py), so `pytest tests/compose tests/stack` runs the stack
tests against it as well; `make test-compose` does exactly that, and stops the Docker
daemon afterwards if it had to start it (scripts/docker-daemon).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.compose.project import REPO
from tests.stack.stack import COMPOSE_TIMINGS

os.environ.setdefault("SIDEQUEST_STACK", "compose")


@pytest.fixture(scope="session", autouse=True)
def docker_daemon() -> None:
    """A Docker daemon that answers: the running one, or Debian's dockerd started now."""
    result = subprocess.run(
        [str(REPO / "scripts" / "docker-daemon"), "start"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"no Docker daemon: {result.stderr.strip()} (`make test-compose` sets one up)")


# The first test to ask for the stack pays for building the images (minutes on a fresh
# machine), and the Compose tests wait on containers starting and stopping.
COMPOSE_TEST_TIMEOUT = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(COMPOSE_TEST_TIMEOUT))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COMPOSE_TIMINGS:
        terminalreporter.section("Compose stack")
        for step, seconds in COMPOSE_TIMINGS.items():
            terminalreporter.write_line(f"{step}: {seconds:.1f} s")
