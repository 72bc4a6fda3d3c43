"""Dramatiq with its Redis broker."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PythonPeer, Variant


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
        "Dramatiq logs no line per job at its default level (INFO) and has no quieter "
        "switch, so its default-logging rows are its quiet runs, measured once.",
    )
    quiet_by_default = True
    venv = "dramatiq"
    client_module = "bench.agents.dramatiq_client"
    packages = ("dramatiq", "redis", "hiredis", "psycopg", "psycopg-pool")

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
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
        return Launch(argv, self.worker_env(paths, redis_url, record, variant))
