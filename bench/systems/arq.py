"""arq (asyncio) with its default polling settings."""

from __future__ import annotations

from pathlib import Path

from bench.systems.base import Launch, Paths, PeriodicPlan, PythonPeer, Variant


class Arq(PythonPeer):
    name = "arq"
    title = "arq (asyncio)"
    concurrency = "max_jobs=10 (coroutines in one thread)"
    bulk_api = None
    schedule_api = "enqueue_job(_defer_until=…): score in ms, picked up by the poll loop"
    notes = (
        "arq polls rather than blocks: every poll_delay (0.5 s) it reads up to "
        "queue_read_limit (100 with max_jobs=10) job ids, which caps a process near "
        "200 jobs/s with the defaults used here.",
        "arq keeps each job's result for 1 hour by default (one more key per job).",
        "Quiet runs start it through arq.worker.run_worker with logging at WARNING: the "
        "`arq` command logs two lines per job and has no switch to stop that; default "
        "runs use the `arq` command.",
    )
    venv = "arq"
    client_module = "bench.agents.arq_client"
    packages = ("arq", "redis", "hiredis", "psycopg", "psycopg-pool")

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        if variant.quiet:
            argv = [str(self.bin(paths) / "python"), "-m", "bench.agents.arq_worker"]
        else:
            argv = [str(self.bin(paths) / "arq"), "bench.agents.arq_jobs.WorkerSettings"]
        return Launch(argv, self.worker_env(paths, redis_url, record, variant))

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan:
        schedules = 5
        argv = [str(self.bin(paths) / "python"), "-m", "bench.agents.arq_periodic_worker"]
        launch = Launch(argv, self.periodic_env(paths, redis_url, record, schedules))
        return PeriodicPlan(
            api="cron(second=every second, microsecond=0, unique=True) in WorkerSettings",
            period=1.0,
            schedules=schedules,
            ticks_each=60,
            launches=[launch, launch],
            instances="two arq workers, each running the cron jobs; they also run the jobs",
        )
