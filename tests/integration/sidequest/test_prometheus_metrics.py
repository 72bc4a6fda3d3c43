"""Worker metrics: counted per process, merged per host, correct in sum."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.worker_process import ROOT


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        process.wait(30)


def _spawn(
    processes: list[subprocess.Popen[bytes]], command: list[str], env: dict[str, str], log: Path
) -> None:
    with log.open("ab") as output:
        processes.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        )


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(
        value for (metric, keys), value in samples.items() if metric == name and wanted <= set(keys)
    )


def test_four_worker_processes_merge_into_exact_totals(
    enqueue_to: str,
    redis_client: redis.Redis,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "REDIS_URL": enqueue_to,
        "TEST_REDIS_URL": enqueue_to,
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    worker = [sys.executable, "-m", "tests.integration.sidequest.metrics_worker", "-c", "3"]
    for index in range(4):
        _spawn(processes, worker, env, tmp_path / f"worker-{index}.log")
    wait_for(lambda: len(redis_client.smembers("processes")) == 4, message="4 processes beating")

    jobs.RecordJob.perform_bulk([[n] for n in range(2000)])
    jobs.AlwaysFailsJob.perform_bulk([[n] for n in range(20)])
    wait_for(lambda: redis_client.get("stat:processed") == "2020", timeout=30, message="all ran")

    port = free_port()
    _spawn(
        processes,
        [sys.executable, "-m", "worker.metrics"],
        {**env, "METRICS_PORT": str(port), "METRICS_HOST": "127.0.0.1"},
        tmp_path / "metrics.log",
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        try:
            return _samples(url)
        except OSError:
            return None

    samples = wait_for(scraped, message="the exporter answers")
    assert _total(samples, "sidequest_jobs_processed_total") == 2020
    assert (
        _total(samples, "sidequest_jobs_processed_total", job_class="RecordJob", queue="default")
        == 2000
    )
    assert _total(samples, "sidequest_jobs_failed_total") == 20
    assert _total(samples, "sidequest_jobs_retried_total", job_class="AlwaysFailsJob") == 20
    assert _total(samples, "sidequest_jobs_dead_total") == 0
    assert _total(samples, "sidequest_job_duration_seconds_count") == 2020
    assert _total(samples, "sidequest_job_latency_seconds_count", queue="default") == 2020
    assert _total(samples, "sidequest_concurrency") == 12
    assert _total(samples, "sidequest_busy_threads") == 0
