"""Huey with Redis storage and the thread worker type."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PeriodicPlan, PythonPeer, Variant


class Huey(PythonPeer):
    name = "huey"
    title = "Huey (RedisHuey, threads)"
    concurrency = "10 threads (-w 10 -k thread)"
    bulk_api = None
    schedule_api = "task.schedule(eta=…): schedule sorted set, scheduler checks every 1 s"
    notes = ("Huey acknowledges nothing: a job popped by a worker that dies is lost.",)
    venv = "huey"
    client_module = "bench.agents.huey_client"
    packages = ("huey", "redis", "hiredis", "psycopg", "psycopg-pool")

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        argv = [
            str(self.bin(paths) / "huey_consumer"),
            "bench.agents.huey_jobs.huey",
            "--workers",
            "10",
            "--worker-type",
            "thread",
        ]
        if variant.quiet:
            argv.append("--quiet")  # default: INFO, two lines per task
        return Launch(argv, self.worker_env(paths, redis_url, record, variant))

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan:
        # crontab's finest field is the minute: 100 schedules side by side, 3 minutes.
        schedules = 100
        argv = [str(self.bin(paths) / "huey_consumer"), "bench.agents.huey_periodic.huey"]
        argv += ["--workers", "10", "--worker-type", "thread", "--quiet"]
        launch = Launch(argv, self.periodic_env(paths, redis_url, record, schedules))
        return PeriodicPlan(
            api="@huey.periodic_task(crontab(minute='*')): minutes are its finest ticks",
            period=60.0,
            schedules=schedules,
            ticks_each=3,
            launches=[launch, launch],
            instances="two consumers, each with its scheduler; they also run the tasks",
        )
