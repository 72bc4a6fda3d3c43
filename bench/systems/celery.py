"""Celery with the threads pool and the Redis broker (kombu's Redis transport)."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PythonPeer, Variant


class Celery(PythonPeer):
    name = "celery"
    title = "Celery (threads pool)"
    concurrency = "10 threads (--pool threads --concurrency 10)"
    bulk_api = None
    schedule_api = "apply_async(eta=…): the worker holds the message until due"
    notes = (
        "No result backend; otherwise Celery's defaults (prefetch multiplier 4, "
        "early ack, gossip, mingle and heartbeats on).",
        "Celery's worker logs at WARNING by default (no line per job), so its default-"
        "logging rows are its quiet runs, measured once.",
    )
    quiet_by_default = True
    venv = "celery"
    client_module = "bench.agents.celery_client"
    packages = ("celery", "kombu", "redis", "hiredis", "psycopg", "psycopg-pool")

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        argv = [
            str(self.bin(paths) / "celery"),
            "-A",
            "bench.agents.celery_jobs",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "10",
            "--queues",
            "default",
            # Celery's own default; spelled out so that the quiet runs say so.
            "--loglevel",
            "WARNING",
        ]
        return Launch(argv, self.worker_env(paths, redis_url, record, variant))
