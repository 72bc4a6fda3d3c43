"""Celery with the threads pool and the Redis broker (kombu's Redis transport)."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PythonPeer, agent_env


class Celery(PythonPeer):
    name = "celery"
    title = "Celery (threads pool)"
    concurrency = "10 threads (--pool threads --concurrency 10)"
    bulk_api = None
    schedule_api = "apply_async(eta=…): the worker holds the message until due"
    notes = (
        "No result backend; otherwise Celery's defaults (prefetch multiplier 4, "
        "early ack, gossip, mingle and heartbeats on).",
    )
    venv = "celery"
    client_module = "bench.agents.celery_client"
    packages = ("celery", "kombu", "redis", "hiredis")

    def worker(self, paths: Paths, redis_url: str, record: Path) -> Launch:
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
            "--loglevel",
            "WARNING",
        ]
        return Launch(argv, agent_env(paths, redis_url, record))
