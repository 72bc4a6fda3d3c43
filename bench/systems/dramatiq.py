"""Dramatiq with its Redis broker."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PythonPeer, agent_env


class Dramatiq(PythonPeer):
    name = "dramatiq"
    title = "Dramatiq (Redis broker)"
    concurrency = "10 threads (--processes 1 --threads 10)"
    bulk_api = None
    schedule_api = "send_with_options(delay=ms): delay queue, moved by the worker when due"
    memory_note = "the dramatiq supervisor process + its 1 worker process"
    notes = (
        "Each Dramatiq worker process here is the `dramatiq` command with one worker "
        "process under it, so '2 processes' means two such commands.",
    )
    venv = "dramatiq"
    client_module = "bench.agents.dramatiq_client"
    packages = ("dramatiq", "redis", "hiredis")

    def worker(self, paths: Paths, redis_url: str, record: Path) -> Launch:
        argv = [
            str(self.bin(paths) / "dramatiq"),
            "bench.agents.dramatiq_jobs",
            "--processes",
            "1",
            "--threads",
            "10",
            "--queues",
            "default",
        ]
        return Launch(argv, agent_env(paths, redis_url, record))
