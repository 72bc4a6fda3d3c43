"""async_concurrency: the config file, the environment, the flag, and the metrics of async jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sidequest import ConfigError
from sidequest.config import build_settings
from sidequest.metrics.prometheus import JobMetricSet, PrometheusMiddleware
from sidequest.middleware import JobContext, ProcessInfo


def test_async_concurrency_defaults_to_100_and_is_read_from_each_layer(tmp_path: Path) -> None:
    assert build_settings(environ={}).async_concurrency == 100
    config = tmp_path / "sidequest.yml"
    config.write_text(":async_concurrency: 300\n")
    assert build_settings(config_file=config, environ={}).async_concurrency == 300
    environ = {"SIDEQUEST_ASYNC_CONCURRENCY": "400"}
    assert build_settings(config_file=config, environ=environ).async_concurrency == 400
    flags = {"async_concurrency": 500}
    assert build_settings(environ=environ, overrides=flags).async_concurrency == 500


def test_async_concurrency_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="async_concurrency"):
        build_settings(environ={"SIDEQUEST_ASYNC_CONCURRENCY": "0"})


def test_async_jobs_have_their_own_gauge_and_blocks_are_counted() -> None:
    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(JobMetricSet(registry))
    middleware.process_started(ProcessInfo("host:1:a", 5, ("default",), 1000))
    on_loop = JobContext("j1", "FetchJob", "default", None, 0.0, on_loop=True)
    on_thread = JobContext("j2", "ReportJob", "default", None, 0.0)
    middleware.job_started(on_loop)
    middleware.job_started(on_thread)
    assert registry.get_sample_value("sidequest_async_jobs_in_flight") == 1
    assert registry.get_sample_value("sidequest_busy_threads") == 1
    assert registry.get_sample_value("sidequest_async_concurrency") == 1000
    middleware.job_finished(on_loop, "succeeded", 0.01, None)
    assert registry.get_sample_value("sidequest_async_jobs_in_flight") == 0
    middleware.loop_blocked("FetchJob j1 (queue default)")
    assert registry.get_sample_value("sidequest_event_loop_blocked_total") == 1
