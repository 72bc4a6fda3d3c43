"""The cluster exporter's batch counters, read from the counters the scripts keep."""

from __future__ import annotations

import redis
from prometheus_client import CollectorRegistry, generate_latest

from sidequest.batches import Batch
from sidequest.metrics.cluster import ClusterCollector
from tests.integration.sidequest.batches.batch_jobs import CallbackJob


def test_batches_created_completed_and_callbacks_fired(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for _ in range(2):
        with Batch(
            on_complete=(CallbackJob, ["c"]), on_success=(CallbackJob, ["s"]), client=client
        ):
            pass
    registry = CollectorRegistry()
    registry.register(ClusterCollector(client))
    text = generate_latest(registry).decode()
    assert "sidequest_batches_created_total 2.0" in text
    assert "sidequest_batches_completed_total 2.0" in text
    assert 'sidequest_batch_callbacks_total{event="complete"} 2.0' in text
    assert 'sidequest_batch_callbacks_total{event="success"} 2.0' in text
    assert 'sidequest_batch_callbacks_total{event="death"} 0.0' in text
