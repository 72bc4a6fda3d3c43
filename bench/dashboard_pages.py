"""How long each dashboard page takes to render at scale (issue 4's 200 ms target).

    .venv/bin/python -m bench.dashboard_pages [--retries 100000] [--queues 50] [--runs 30]

Starts its own redis-server (never the one on 6379), fills it in Sidekiq's layout
(100,000 retries, 50 queues of 1,000 jobs, 10,000 scheduled and dead entries, 20
worker processes with running jobs, a day of job metrics for 40 classes), then requests
every page through the Flask test client, authenticated as a user would be, and
prints the median, p95 and worst time per page in milliseconds. The time covers
routing, every Redis round trip and template rendering in this process; not the
browser and not a network hop.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from flask import Flask
from redis.typing import EncodableT, FieldT

from bench.redisd import RedisServer
from sidequest import payload
from sidequest.dashboard import Dashboard

TARGET_MS = 200.0
_BATCH = 5000


def fill(client: redis.Redis, retries: int, queues: int, per_queue: int) -> str:
    """Write the data set; returns the id of one retry entry (for its entry page)."""
    now = time.time()
    backtrace = payload.encode_backtrace([f"app/jobs/job.py:{n}:in `perform'" for n in range(20)])
    pipe = client.pipeline(transaction=False)
    first_id = ""
    for n in range(retries):
        job = payload.build(f"RetryJob{n % 40}", [n, "customer@example.com", {"id": n}])
        job.update(
            error_class="Net::ReadTimeout",
            error_message=f"request {n} timed out after 30 s",
            failed_at=now - 3600,
            retry_count=n % 25,
            error_backtrace=backtrace,
        )
        score = now + n
        pipe.zadd("retry", {payload.encode(job): score})
        if n == retries // 2:
            first_id = f"{score!r}|{job['jid']}"
        if n % _BATCH == 0:
            pipe.execute()
    for q in range(queues):
        name = f"queue{q:02d}"
        pipe.sadd("queues", name)
        for n in range(per_queue):
            job = payload.build(f"QueuedJob{n % 10}", [n, "x" * 40], queue=name)
            job["enqueued_at"] = now - n
            pipe.lpush(f"queue:{name}", payload.encode(job))
        pipe.execute()
    for n in range(10_000):
        pipe.zadd("schedule", {payload.encode(payload.build("LaterJob", [n])): now + n})
        pipe.zadd("dead", {payload.encode(payload.build("DeadJob", [n])): now - n})
        if n % _BATCH == 0:
            pipe.execute()
    fill_processes(pipe, now)
    fill_metrics(pipe, now)
    pipe.execute()
    return first_id


def fill_processes(pipe: redis.client.Pipeline, now: float) -> None:
    for p in range(20):
        identity = f"worker-{p}:{1000 + p}:{p:012x}"
        info = {
            "hostname": f"worker-{p}",
            "pid": 1000 + p,
            "concurrency": 10,
            "queues": ["default"],
            "started_at": now - 3600,
            "tag": "bench",
        }
        pipe.sadd("processes", identity)
        pipe.hset(
            identity,
            mapping={
                "info": json.dumps(info),
                "busy": 10,
                "beat": now,
                "quiet": "false",
                "rss": 90000,
                "concurrency": 10,
            },
        )
        for t in range(10):
            work = {
                "queue": "default",
                "run_at": int(now),
                "payload": payload.encode(payload.build("BusyJob", [t])),
            }
            pipe.hset(f"{identity}:work", f"t{t}", json.dumps(work))


def fill_metrics(pipe: redis.client.Pipeline, now: float) -> None:
    moment = datetime.fromtimestamp(now, UTC)
    fields: dict[FieldT, EncodableT] = {}
    for c in range(40):
        fields.update(
            {
                f"Job{c}|p": 100,
                f"Job{c}|f": 3,
                f"Job{c}|ms": 5000.0,
                **{f"Job{c}|h{b}": 4 for b in range(10, 35)},
            }
        )
    for step in range(12):
        key = (moment - timedelta(minutes=10 * step)).strftime("%Y%m%d%H%M")[:-1]
        pipe.hset(f"sidequest:metrics:{key}", mapping=fields)
    for hour in range(24):
        key = (moment - timedelta(hours=hour)).strftime("%Y%m%d%H")
        pipe.hset(f"sidequest:metrics:hour:{key}", mapping=fields)


def pages(entry_id: str) -> list[str]:
    return [
        "/",
        "/?days=180",
        "/stats.json",
        "/busy",
        "/queues",
        "/queues/queue07",
        "/queues/queue07?page=40",
        "/retries",
        "/retries?per_page=100",
        "/retries?page=4000",
        f"/retries/entry/{entry_id}",
        "/scheduled",
        "/dead",
        "/metrics",
        "/metrics?window=day",
        "/retries?filter=no-such-text",
        "/retries?filter=RetryJob7&page=3",
        "/queues/queue07?filter=no-such-text",
    ]


def measure(app: Flask, path: str, runs: int) -> list[float]:
    auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
    timings = []
    with app.test_client() as client:
        for attempt in range(runs + 3):
            started = time.perf_counter()
            response = client.get("/sidequest" + path, headers=auth)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            if attempt >= 3:  # the first requests compile templates
                timings.append(elapsed)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retries", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--per-queue", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            started = time.perf_counter()
            entry_id = fill(client, options.retries, options.queues, options.per_queue)
            print(
                f"filled in {time.perf_counter() - started:.1f} s: "
                f"{client.zcard('retry'):,} retries, {client.scard('queues')} queues, "
                f"{client.dbsize():,} keys, redis {client.info()['used_memory_human']}"
            )
            app = Flask("bench")
            app.secret_key = "bench"
            app.config.update(SIDEQUEST_WEB_USERNAME="bench", SIDEQUEST_WEB_PASSWORD="bench")
            Dashboard().init_app(app, redis=server.url)
            print(f"{'page':<42} {'median':>8} {'p95':>8} {'max':>8}   (ms, {options.runs} runs)")
            worst = 0.0
            for path in pages(entry_id):
                timings = sorted(measure(app, path, options.runs))
                p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
                worst = max(worst, p95)
                shown = path if len(path) <= 42 else path[:39] + "..."
                print(
                    f"{shown:<42} {statistics.median(timings):8.1f} {p95:8.1f} {timings[-1]:8.1f}"
                )
            verdict = "within" if worst < TARGET_MS else "OVER"
            print(f"slowest p95 {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
            client.close()
            return 0 if worst < TARGET_MS else 1
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
