"""Worker metrics: counted per process, merged per host, correct in sum."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
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
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, /, **labels: str
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


def test_periodic_lateness_and_missed_ticks_appear_in_the_workers_metrics(
    redis_client: redis.Redis,
    redis_url: str,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TEST_REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    config = tmp_path / "sidequest.yml"
    tick = {"every": 1, "class": "PeriodicJob", "args": ["tick"], "missed": "all"}
    config.write_text(yaml.safe_dump({":periodic:": {"tick": tick}}))
    worker = [sys.executable, "-m", "tests.integration.sidequest.metrics_worker", "-C", str(config)]

    def ran() -> int:
        return int(redis_client.llen("test:periodic"))

    _spawn(processes, worker, env, tmp_path / "worker-0.log")
    wait_for(lambda: ran() >= 2, timeout=30, message="ticks on time")
    first = processes.pop()
    first.terminate()
    first.wait(30)
    # Down for three ticks past their grace: the next worker catches them up (missed: all).
    down_from = time.time()
    wait_for(lambda: time.time() > down_from + 4, timeout=10, message="downtime")
    on_time = ran()
    _spawn(processes, worker, env, tmp_path / "worker-1.log")
    wait_for(lambda: ran() >= on_time + 6, timeout=30, message="catch-up and ticks on time")

    port = free_port()
    _spawn(
        processes,
        [sys.executable, "-m", "worker.metrics"],
        {**env, "METRICS_PORT": str(port), "METRICS_HOST": "127.0.0.1"},
        tmp_path / "metrics.log",
    )

    def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        try:
            return _samples(f"http://127.0.0.1:{port}/metrics")
        except OSError:
            return None

    samples = wait_for(scraped, message="the exporter answers")
    missed = _total(samples, "sidequest_periodic_missed_total", name="tick")
    assert 3 <= missed <= 5
    observed = _total(samples, "sidequest_periodic_lateness_seconds_count")
    # Each tick pushed on time is observed once; the missed ones are left out...
    assert observed == ran() - missed
    # ... and those on time were pushed within their grace (1 s for `every: 1`); all but
    # the first fire of each worker (a tick due while it started) within 0.1 s.
    assert _total(samples, "sidequest_periodic_lateness_seconds_bucket", le="1.0") == observed
    assert _total(samples, "sidequest_periodic_lateness_seconds_bucket", le="0.1") >= observed - 2
