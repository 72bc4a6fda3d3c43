"""Payloads as Ruby writes them, for the tests that cannot get them from Debian's Sidekiq 6.4."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

WRAPPER_8 = "Sidekiq::ActiveJob::Wrapper"
WRAPPER_6 = "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper"


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def sidekiq8_job(
    arguments: list[Any], *, queue: str = "reports", wrapped: str = "ProcessReportJob", at: float
) -> dict[str, Any]:
    """An ActiveJob payload as Sidekiq 8.1's adapter writes it (key order as Ruby's)."""
    return {
        "retry": True,
        "queue": queue,
        "wrapped": wrapped,
        "args": [
            {
                "job_class": wrapped,
                "job_id": str(uuid.uuid4()),
                "provider_job_id": None,
                "queue_name": queue,
                "priority": None,
                "arguments": arguments,
                "executions": 0,
                "exception_executions": {},
                "locale": "en",
                "timezone": "UTC",
                "enqueued_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(at)),
                "scheduled_at": None,
            }
        ],
        "class": WRAPPER_8,
        "jid": uuid.uuid4().hex[:24],
        "created_at": ms(at),
        "enqueued_at": ms(at),
    }


def push(store: redis.Redis, job: dict[str, Any]) -> None:
    store.sadd("queues", job["queue"])
    store.lpush(f"queue:{job['queue']}", json.dumps(job))
