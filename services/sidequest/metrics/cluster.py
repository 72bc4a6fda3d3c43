"""Cluster-wide gauges read from Redis at scrape time: export them from one place.

Every worker would report the same queue sizes, so these live in the web tier's
/metrics (or any single exporter), not in each worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sidequest import api
from sidequest.api import flow_state
from sidequest.batches.status import EVENTS
from sidequest.batches.store import BatchStore


class ClusterCollector(Collector):
    def __init__(self, client: redis.Redis):
        self.redis = client

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        size = GaugeMetricFamily(
            "sidequest_queue_size", "Jobs waiting in each queue.", labels=["queue"]
        )
        latency = GaugeMetricFamily(
            "sidequest_queue_latency_seconds",
            "Age of the oldest job in each queue.",
            labels=["queue"],
        )
        paused = GaugeMetricFamily(
            "sidequest_queue_paused",
            "1 while a queue is paused (sidequest queues pause), else 0.",
            labels=["queue"],
        )
        try:
            snapshot = api.Stats(self.redis).snapshot()
            flow = flow_state.read(self.redis)
            limits = api.Limits(self.redis).totals()
            batch_stats = BatchStore(self.redis).stats()
            now = time.time()
            names = set()
            for queue in api.Queue.all(self.redis):
                names.add(queue.name)
                size.add_metric([queue.name], snapshot.queues.get(queue.name, 0))
                latency.add_metric([queue.name], queue.latency(now))
            for name in sorted(names | set(flow.paused)):
                paused.add_metric([name], 1 if name in flow.paused else 0)
        except redis.RedisError:
            up = GaugeMetricFamily("sidequest_redis_up", "Whether Redis answered the scrape.")
            up.add_metric([], 0)
            yield up
            return
        yield size
        yield latency
        yield paused
        for name, help_text in (
            ("cancelled", "Jobs cancelled: removed while waiting, dropped or stopped."),
            ("expired", "Jobs dropped unstarted because their expires_in passed."),
            ("debounced", "Pending jobs replaced by a later enqueue with their debounce key."),
        ):
            counter = CounterMetricFamily(f"sidequest_{name}_jobs", help_text)
            counter.add_metric([], flow.counts.get(name, 0))
            yield counter
        for name, help_text, value in (
            ("sidequest_scheduled_jobs", "Jobs in the schedule set.", snapshot.scheduled),
            ("sidequest_retry_jobs", "Jobs waiting to be retried.", snapshot.retries),
            ("sidequest_dead_jobs", "Jobs in the dead set.", snapshot.dead),
            ("sidequest_processes", "Worker processes with a live heartbeat.", snapshot.processes),
            ("sidequest_busy_jobs", "Jobs running now, as heartbeats report.", snapshot.busy),
            (
                "sidequest_processed_jobs",
                "stat:processed: every execution ever recorded.",
                snapshot.processed,
            ),
            (
                "sidequest_failed_jobs",
                "stat:failed: every failed execution ever recorded.",
                snapshot.failed,
            ),
            (
                "sidequest_limit_slots_held",
                "Concurrency-limit slots held by running jobs, over every key.",
                limits["slots_held"],
            ),
            (
                "sidequest_limit_parked_jobs",
                "Jobs parked until a concurrency-limit slot of their key frees.",
                limits["parked"],
            ),
        ):
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family
        yield from _batch_families(batch_stats)
        up = GaugeMetricFamily("sidequest_redis_up", "Whether Redis answered the scrape.")
        up.add_metric([], 1)
        yield up


def _batch_families(stats: dict[str, int]) -> Iterator[CounterMetricFamily]:
    """Counted by the Lua scripts in the step that creates or completes a batch, or
    pushes a callback: a callbacks count above the batches completed would be a bug."""
    created = CounterMetricFamily("sidequest_batches_created", "Batches created.")
    created.add_metric([], stats.get("created", 0))
    yield created
    completed = CounterMetricFamily(
        "sidequest_batches_completed", "Batches whose every member succeeded or died."
    )
    completed.add_metric([], stats.get("completed", 0))
    yield completed
    fired = CounterMetricFamily(
        "sidequest_batch_callbacks",
        "Batch callback jobs pushed, by event (each at most once per batch).",
        labels=["event"],
    )
    for event in EVENTS:
        fired.add_metric([event], stats.get(f"callbacks:{event}", 0))
    yield fired
