"""An alert of infra/prometheus/rules.yml going to firing in the stack's Prometheus.

The stack runs with a prometheus.yml whose scrape and evaluation intervals are 1 s
(PROMETHEUS_CONFIG, tests/compose/project.py); the rules are the real file.
"""

from __future__ import annotations

import time

import orjson

from tests.stack.stack import Stack
from tests.support.polling import wait_for


def test_a_job_in_the_dead_set_fires_the_dead_set_alert(stack: Stack) -> None:
    alerts = stack.prometheus

    def dead_set_alert() -> list[str]:
        return [
            alert["state"]
            for alert in alerts.get("/api/v1/alerts")["alerts"]
            if alert["labels"]["alertname"] == "SidequestDeadSetGrowing"
        ]

    # A sample of the dead set's size from before, for the rule's delta() to compare with.
    wait_for(
        lambda: alerts.value("max(sidequest_dead_jobs)") is not None,
        timeout=60,
        interval=0.5,
        message="a scrape of sidequest_dead_jobs",
    )
    assert dead_set_alert() == [], "nothing had died yet"
    # The Dead tab's content, as a worker leaves it when a job's retries run out.
    dead = {
        "class": "ComposeAlertProbe", "args": [], "queue": "default",
        "jid": "c0ffee00c0ffee00c0ffee00", "created_at": time.time(),
        "enqueued_at": time.time(), "failed_at": time.time(), "retry_count": 0,
        "error_class": "RuntimeError", "error_message": "the alert test's probe",
    }  # fmt: skip
    entry = orjson.dumps(dead).decode()
    stack.redis.zadd("dead", {entry: time.time()})
    try:
        wait_for(
            lambda: dead_set_alert() == ["firing"],
            timeout=60,
            interval=0.5,
            message="SidequestDeadSetGrowing to fire",
        )
    finally:
        stack.redis.zrem("dead", entry)
