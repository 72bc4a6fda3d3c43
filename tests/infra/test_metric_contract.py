"""The metrics the Python side defines are the ones infra/ queries (the contract names in
conftest.py), with the labels the dashboard groups by, on the ports infra/ scrapes."""

from __future__ import annotations

from typing import Any

import redis
from prometheus_client import CollectorRegistry

from sidequest.metrics import ClusterCollector
from sidequest.metrics.prometheus import JobMetricSet
from tests.infra.conftest import CONTRACT_METRICS, REPO, load_yaml
from web import metrics as web_metrics
from web.request_metrics import RequestMetrics
from worker import metrics as worker_metrics

LABELS = {
    "sidequest_jobs_processed_total": {"queue", "job_class"},
    "sidequest_jobs_failed_total": {"queue", "job_class"},
    "sidequest_jobs_retried_total": {"queue", "job_class"},
    "sidequest_jobs_dead_total": {"queue", "job_class"},
    "sidequest_jobs_discarded_total": {"queue", "job_class"},
    "sidequest_job_duration_seconds": {"queue", "job_class"},
    "sidequest_job_latency_seconds": {"queue"},
    "sidequest_web_requests_total": {"method", "endpoint", "status"},
    "sidequest_web_request_duration_seconds": {"method", "endpoint"},
    "sidequest_queue_size": {"queue"},
    "sidequest_queue_latency_seconds": {"queue"},
    "sidequest_queue_paused": {"queue"},
}


def exported(redis_url: str) -> dict[str, set[str]]:
    """{exposed metric name: label names} of every family the Python side defines."""
    registry = CollectorRegistry()
    jobs = JobMetricSet(registry)
    web = RequestMetrics(registry)
    client = redis.Redis.from_url(redis_url)
    client.lpush("queue:default", "{}")
    client.sadd("queues", "default")
    registry.register(ClusterCollector(client))
    # One sample of each labelled family, so its label names show.
    for counter in (jobs.processed, jobs.failed, jobs.retried, jobs.dead, jobs.discarded):
        counter.labels("default", "Job").inc()
    jobs.duration.labels("default", "Job").observe(0.1)
    jobs.latency.labels("default").observe(0.1)
    web.record("GET", "health.healthz", "200", 0.01)
    found: dict[str, set[str]] = {}
    try:
        for family in registry.collect():
            name = f"{family.name}_total" if family.type == "counter" else family.name
            labels: set[str] = set()
            for sample in family.samples:
                labels |= set(sample.labels) - {"le"}
            found[name] = labels
    finally:
        client.close()
    return found


def test_every_contract_metric_is_defined_with_the_labels_the_dashboard_uses(
    redis_url: str,
) -> None:
    found = exported(redis_url)
    missing = CONTRACT_METRICS - set(found)
    assert not missing, f"infra/ queries metrics nothing defines: {missing}"
    for name, labels in LABELS.items():
        assert found[name] == labels, name
    for name in CONTRACT_METRICS - set(LABELS):
        assert found[name] == set(), f"{name} is one number per process or cluster"


def test_the_ports_and_path_infra_scrapes_are_the_ones_served(
    compose_source: dict[str, Any],
) -> None:
    scrape = {
        job["job_name"]: job
        for job in load_yaml(REPO / "infra/prometheus/prometheus.yml")["scrape_configs"]
    }
    assert scrape["worker"]["dns_sd_configs"][0]["port"] == worker_metrics.DEFAULT_PORT
    assert compose_source["services"]["worker"]["expose"] == [str(worker_metrics.DEFAULT_PORT)]
    assert scrape["web"]["metrics_path"] == scrape["worker"]["metrics_path"] == web_metrics.PATH
    # The web tier's /metrics is gunicorn's port (web/gunicorn.conf.py's default, 8000).
    assert scrape["web"]["dns_sd_configs"][0]["port"] == 8000
    assert "127.0.0.1:${WEB_PORT:-8000}:8000" in compose_source["services"]["web"]["ports"]
