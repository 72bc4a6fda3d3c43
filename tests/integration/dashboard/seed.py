"""Data for dashboard tests, written to a real Redis in Sidekiq's layout.

Payloads are raw JSON (as a Ruby client or any worker would write them); nothing
here imports job classes, just as the dashboard does not.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from sidequest import payload

# The strings an attacker would put in any field that reaches a page.
XSS_SCRIPT = "<script>window.__xss = 1</script>"
XSS_IMG = '"><img src=x onerror="window.__xss=2">'
XSS_URL = "javascript:window.__xss=3"
XSS_VALUES = (XSS_SCRIPT, XSS_IMG, XSS_URL)


def job(
    job_class: str = "HardJob",
    args: list[Any] | None = None,
    *,
    queue: str = "default",
    **extra: Any,
) -> dict[str, Any]:
    built = payload.build(job_class, [1, "two"] if args is None else args, queue=queue)
    built["enqueued_at"] = time.time()
    built.update(extra)
    return built


def failed(job_class: str = "FlakyJob", message: str = "boom", **extra: Any) -> dict[str, Any]:
    now = time.time()
    return job(
        job_class,
        error_class="RuntimeError",
        error_message=message,
        failed_at=now - 60,
        retried_at=now - 30,
        retry_count=2,
        error_backtrace=payload.encode_backtrace(
            ["app/jobs/flaky_job.py:12:in `perform'", "sidequest/runtime/executor.py:90:in `run'"]
        ),
        **extra,
    )


def enqueue(client: redis.Redis, item: dict[str, Any]) -> str:
    raw = payload.encode(item)
    client.sadd("queues", item["queue"])
    client.lpush(f"queue:{item['queue']}", raw)
    return raw


def add_to_set(client: redis.Redis, name: str, item: dict[str, Any], score: float) -> str:
    raw = payload.encode(item)
    client.zadd(name, {raw: score})
    return raw


def process(
    client: redis.Redis,
    identity: str = "web-1:4242:0123456789ab",
    *,
    tag: str = "reports",
    queues: tuple[str, ...] = ("default", "mailers"),
    running: list[dict[str, Any]] | None = None,
) -> str:
    """A live process heartbeat (what a worker writes each beat), with running jobs."""
    info = {
        "hostname": identity.split(":", maxsplit=1)[0],
        "pid": int(identity.split(":")[1]),
        "tag": tag,
        "concurrency": 5,
        "queues": list(queues),
        "weights": [dict.fromkeys(queues, 1)],
        "labels": ["blue"],
        "started_at": time.time() - 3600,
        "identity": identity,
        "version": "0.1.0",
    }
    pipe = client.pipeline()
    pipe.sadd("processes", identity)
    pipe.hset(
        identity,
        mapping={
            "info": json.dumps(info),
            "busy": len(running or []),
            "beat": time.time(),
            "quiet": "false",
            "rss": 123456,
            "rtt_us": 150,
            "concurrency": 5,
        },
    )
    pipe.expire(identity, 60)
    for index, item in enumerate(running or []):
        work = {"queue": item["queue"], "payload": payload.encode(item), "run_at": int(time.time())}
        pipe.hset(f"{identity}:work", f"tid{index}", json.dumps(work))
    pipe.execute()
    return identity
