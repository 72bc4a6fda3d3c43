"""sidequest itself, run from the project's own environment (.venv: `make install`, editable).

CHECK WHEN THE CORE LANDS (this adapter was written against the announced API,
before the core existed):
- the worker command line and its flags (``worker_argv``);
- that the worker reads REDIS_URL and logs no line per job at its default level;
- the client calls in bench/agents/sidequest_client.py and the job class in
  bench/agents/sidequest_jobs.py (perform_later, perform_bulk, perform_at).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.envs import Unavailable, output_of
from bench.systems.base import (
    Launch,
    Paths,
    PeriodicPlan,
    System,
    Variant,
    agent_env,
    python_versions,
)


class Sidequest(System):
    name = "sidequest"
    title = "sidequest"
    concurrency = "10 threads (-c 10)"
    bulk_api = "NoopJob.perform_bulk, 1,000 per call (pipelined)"
    schedule_api = "perform_at: schedule sorted set, scheduler wakes at the next due score"
    process_counts = (1, 2, 4)
    notes = ("Runs as shipped: reliable fetch, heartbeats and stats on.",)

    def _venv_bin(self, paths: Paths) -> Path:
        return paths.repo / ".venv" / "bin"

    def prepare(self, paths: Paths) -> None:
        bin_dir = self._venv_bin(paths)
        if not (bin_dir / "sidequest").exists():
            raise Unavailable(f"{bin_dir / 'sidequest'} is missing: run `make install`")
        probe = "import sidequest; sidequest.configure; sidequest.Job; print('ok')"
        if output_of([str(bin_dir / "python"), "-c", probe]) != "ok":
            raise Unavailable(
                "`import sidequest` lacks configure/Job in .venv: the core is not installed yet"
            )

    def worker_argv(self, paths: Paths, variant: Variant) -> list[str]:
        argv = [
            str(self._venv_bin(paths) / "sidequest"),
            "worker",
            "-r",
            "bench.agents.sidequest_jobs",
            "-c",
            "10",
            "-q",
            "default",
        ]
        if variant.quiet:
            # sidequest logs two lines per job at its default level, INFO.
            argv += ["--log-level", "WARNING"]
        return argv

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        env = self.worker_env(paths, redis_url, record, variant)
        if not variant.quiet:
            env.pop("SIDEQUEST_LOG_LEVEL", None)  # its default, not the caller's setting
        return Launch(self.worker_argv(paths, variant), env)

    def periodic(self, paths: Paths, redis_url: str, record: Path) -> PeriodicPlan:
        schedules = 5
        argv = [str(self._venv_bin(paths) / "sidequest"), "worker", "-r"]
        argv += ["bench.agents.sidequest_periodic", "-c", "10", "-q", "default"]
        argv += ["--log-level", "WARNING"]
        launch = Launch(argv, self.periodic_env(paths, redis_url, record, schedules))
        return PeriodicPlan(
            api="sidequest.periodic(every=1): every worker claims ticks (periodic_claim.lua)",
            period=1.0,
            schedules=schedules,
            ticks_each=60,
            launches=[launch, launch],
            instances="two worker processes (scheduler threads); they also run the jobs",
        )

    def producer(self, paths: Paths, redis_url: str) -> Launch:
        argv = [
            str(self._venv_bin(paths) / "python"),
            "-m",
            "bench.agents.driver",
            "bench.agents.sidequest_client",
        ]
        return Launch(argv, agent_env(paths, redis_url))

    def versions(self, paths: Paths) -> dict[str, str]:
        found = python_versions(
            self._venv_bin(paths) / "python",
            ("sidequest", "redis", "hiredis", "psycopg", "psycopg-pool"),
        )
        commit = output_of(["git", "-C", str(paths.repo), "rev-parse", "--short", "HEAD"])
        if commit and "sidequest" in found:
            found["sidequest"] += f" (commit {commit}, services/ {self.fingerprint(paths)})"
        return found

    def fingerprint(self, paths: Paths) -> str:
        # The editable install runs the working tree of services/: its committed tree
        # plus its uncommitted changes; commits elsewhere in the repository do not count.
        git = ["git", "-C", str(paths.repo)]
        tree = output_of([*git, "rev-parse", "--short", "HEAD:services"]) or "?"
        diff = output_of([*git, "diff", "HEAD", "--", "services"])
        return tree + (f"+{hashlib.sha1(diff.encode()).hexdigest()[:8]}" if diff else "")
