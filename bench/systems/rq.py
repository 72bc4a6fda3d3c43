"""RQ, with its default forking Worker (``rq``) and with SimpleWorker (``rq-simple``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from bench.systems.base import Launch, Paths, PeriodicPlan, PythonPeer, Variant


class RQ(PythonPeer):
    name = "rq"
    title = "RQ (Worker, fork per job)"
    concurrency = "1 job at a time (RQ runs one job per worker process)"
    bulk_api = "Queue.enqueue_many, 1,000 per call (one pipeline)"
    schedule_api = "Queue.enqueue_at (worker started with --with-scheduler)"
    memory_note = "worker + its scheduler process (forked by --with-scheduler)"
    notes: ClassVar[tuple[str, ...]] = (
        "RQ has no threads: one job at a time per process, so its 1- and 2-process "
        "rows have 1 and 2 jobs in flight against 10 and 20 elsewhere.",
        "--with-scheduler is on in every run (scheduled jobs need it); it forks a "
        "scheduler process that polls every second.",
        "RQ stores scheduled times in whole seconds, so a job may start up to 1 s early.",
    )
    venv = "rq"
    client_module = "bench.agents.rq_client"
    packages = ("rq", "redis", "hiredis", "psycopg", "psycopg-pool")
    slots = 1
    worker_class: ClassVar[str | None] = None

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        argv = [str(self.bin(paths) / "rq"), "worker", "--url", redis_url, "--with-scheduler"]
        if variant.quiet:
            argv.append("--quiet")  # default: INFO, two or three lines per job
        if self.worker_class:
            argv += ["--worker-class", self.worker_class]
        return Launch([*argv, "default"], self.worker_env(paths, redis_url, record, variant))

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan | None:
        if self.worker_class:
            return None  # the same scheduler as `rq`: measured once
        schedules = 5
        env = self.periodic_env(paths, redis_url, record, schedules)
        rq = str(self.bin(paths) / "rq")
        # A dotted path: loaded from a file path, the module gets a name the worker
        # cannot import the job function by.
        config = "bench.agents.rq_periodic"
        cron = Launch([rq, "cron", "--url", redis_url, "--logging-level", "WARNING", config], env)
        worker = [rq, "worker", "--url", redis_url, "--quiet"]
        worker += ["--worker-class", "rq.worker.SimpleWorker", "default"]
        return PeriodicPlan(
            api='rq.cron.register(cron="* * * * * *"), run by `rq cron` (RQ\'s own scheduler)',
            period=1.0,
            schedules=schedules,
            ticks_each=60,
            launches=[cron, cron, Launch(worker, env)],
            instances="two `rq cron` processes + one SimpleWorker (no fork per job)",
        )


class RQSimple(RQ):
    name = "rq-simple"
    title = "RQ (SimpleWorker, no fork)"
    worker_class = "rq.worker.SimpleWorker"
    notes = (
        "Same client, queue and scheduler as `rq`; jobs run in the worker process itself.",
        *RQ.notes,
    )
