"""Celery with the threads pool and the Redis broker (kombu's Redis transport)."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PeriodicPlan, PythonPeer, Variant


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

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan:
        schedules = 5
        env = self.periodic_env(paths, redis_url, record, schedules)
        celery = [str(self.bin(paths) / "celery"), "-A", "bench.agents.celery_periodic"]
        beats = [
            Launch(
                [
                    *celery,
                    "beat",
                    "--schedule",
                    str(paths.logs / f"celerybeat-{index}"),
                    "--loglevel",
                    "WARNING",
                ],
                env,
            )
            for index in range(2)
        ]
        worker = [*celery, "worker", "--pool", "threads", "--concurrency", "10"]
        worker += ["--queues", "default", "--loglevel", "WARNING"]
        return PeriodicPlan(
            api="beat_schedule entries with schedule=1.0 (a 1 s interval from the last send)",
            period=1.0,
            schedules=schedules,
            ticks_each=60,
            launches=[*beats, Launch(worker, env)],
            instances="two `celery beat` processes (own schedule files) + one worker",
        )
