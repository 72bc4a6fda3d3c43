"""Huey with Redis storage and the thread worker type."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PythonPeer, agent_env


class Huey(PythonPeer):
    name = "huey"
    title = "Huey (RedisHuey, threads)"
    concurrency = "10 threads (-w 10 -k thread)"
    bulk_api = None
    schedule_api = "task.schedule(eta=…): schedule sorted set, scheduler checks every 1 s"
    notes = ("Huey acknowledges nothing: a job popped by a worker that dies is lost.",)
    venv = "huey"
    client_module = "bench.agents.huey_client"
    packages = ("huey", "redis", "hiredis")

    def worker(self, paths: Paths, redis_url: str, record: Path) -> Launch:
        argv = [
            str(self.bin(paths) / "huey_consumer"),
            "bench.agents.huey_jobs.huey",
            "--workers",
            "10",
            "--worker-type",
            "thread",
            "--quiet",
        ]
        return Launch(argv, agent_env(paths, redis_url, record))
