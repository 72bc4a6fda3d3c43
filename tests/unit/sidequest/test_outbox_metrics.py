"""The relay's Prometheus metrics count pushed jobs and their commit-to-push lag."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from sidequest.metrics.outbox import RelayMetrics
from sidequest.outbox import PassResult


def test_pushed_jobs_and_their_lags_are_recorded_and_rows_pushed_before_are_not() -> None:
    registry = CollectorRegistry()
    metrics = RelayMetrics(registry)

    metrics.observe(PassResult(deleted=3, pushed=2, already_pushed=1, lags=(0.003, 0.2)))

    assert registry.get_sample_value("sidequest_outbox_relayed_total") == 2
    assert registry.get_sample_value("sidequest_outbox_relay_lag_seconds_count") == 2
    bucket = {"le": "0.005"}
    assert registry.get_sample_value("sidequest_outbox_relay_lag_seconds_bucket", bucket) == 1
