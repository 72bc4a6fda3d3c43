"""What one job costs Redis: CPU and commands per job, for the capacity model (docs/scaling.md).

    .venv/bin/python -m bench.redis_cost                      # noop, redis, sleep; 4 processes
    .venv/bin/python -m bench.redis_cost --workloads noop --n 40000 --procs 4

For each workload: N jobs are enqueued in bulk into the suite's own redis-server, the
command statistics are reset, then `--procs` worker processes (10 threads each, quiet
logging, the benchmark's job: bench/agents/workload.py) drain them. A sampler reads the
redis-server process's CPU time from /proc every 50 ms. Reported per drain, from the
first job to the last: jobs/s, Redis CPU seconds per 1,000 jobs and its busiest 0.5 s
(as a share of one core), commands per job (`INFO commandstats`, a Lua script counting
one), and the jobs/s at which that cost would fill one core. The machine's load average
and the CPU the rest of the machine used during the drain are printed too, since Redis
and the workers share the cores with everything else.

`sql` creates a database of its own on the loopback PostgreSQL (BENCH_PG_URL, default
postgresql://postgres@127.0.0.1:5432/postgres, as `python -m bench`) and drops it after.
A drain in which any job failed is an error: failures and their retries are commands no
successful job costs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pgdb import Database
from bench.redisd import RedisServer

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
WORKER = [sys.executable, "-m", "sidequest", "worker"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core spent not idle, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


@dataclass
class Drain:
    workload: str
    jobs: int
    seconds: float
    redis_cpu: float
    peak_share: float
    commands: int
    machine_cpu: float
    load: str

    def line(self) -> str:
        per_job = self.redis_cpu / self.jobs
        return (
            f"{self.workload:6} {self.jobs:>7,} jobs in {self.seconds:5.2f} s = "
            f"{self.jobs / self.seconds:>8,.0f} jobs/s | Redis CPU {per_job * 1e6:6.1f} us/job, "
            f"{self.redis_cpu / self.seconds:5.1%} of a core on average, busiest 0.5 s "
            f"{self.peak_share:5.1%} | {self.commands / self.jobs:.2f} commands/job | one core "
            f"would carry {1 / per_job:>8,.0f} jobs/s | whole machine busy "
            f"{self.machine_cpu / self.seconds:.2f} cores; load before {self.load}"
        )


class Sampler(threading.Thread):
    """(monotonic time, Redis CPU seconds, machine busy seconds) every 50 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self.machine: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            now = time.monotonic()
            self.samples.append((now, cpu_seconds(self.pid)))
            self.machine.append((now, machine_busy_seconds()))
            self.stopped.wait(0.05)

    def machine_between(self, start: float, end: float) -> float:
        inside = [s for s in self.machine if start <= s[0] <= end]
        return inside[-1][1] - inside[0][1] if len(inside) >= 2 else 0.0

    def between(self, start: float, end: float) -> tuple[float, float]:
        """CPU used from `start` to `end`, and the busiest 0.5 s window as a core share."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return 0.0, 0.0
        used = inside[-1][1] - inside[0][1]
        peak = 0.0
        for index, (at, cpu) in enumerate(inside):
            later = next((s for s in inside[index:] if s[0] >= at + 0.5), None)
            if later is not None:
                peak = max(peak, (later[1] - cpu) / (later[0] - at))
        return used, peak


def drain(
    server: RedisServer, workload: str, n: int, procs: int, directory: Path, pg_dsn: str = ""
) -> Drain:
    client = server.client
    client.flushall()
    env = {
        **os.environ,
        "BENCH_PG_DSN": pg_dsn,
        "REDIS_URL": server.url,
        "BENCH_WORKLOAD": workload,
        "BENCH_CONCURRENCY": "10",
        "BENCH_RECORD": str(directory / f"{workload}.record"),
        "PYTHONPATH": str(ROOT),
        "SIDEQUEST_LOG_LEVEL": "WARNING",
        "SIDEQUEST_CPUS": "off",
    }
    subprocess.run(
        [sys.executable, "-c", _ENQUEUE, str(n)], env=env, check=True, cwd=ROOT, timeout=300
    )
    client.config_resetstat()
    load = Path("/proc/loadavg").read_text().split()[0]
    sampler = Sampler(server.process.pid if server.process else 0)
    sampler.start()
    workers = [
        subprocess.Popen(
            [*WORKER, "-r", "bench.agents.sidequest_jobs", "-c", "10"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(procs)
    ]
    first = last = 0.0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = int(client.get("stat:processed") or 0)
        now = time.monotonic()
        if done and not first:
            first = now
        if done >= n:
            last = now
            break
        time.sleep(0.02)
    commands = sum(
        int(stats["calls"])
        for stats in client.info("commandstats").values()
        if isinstance(stats, dict)
    )
    sampler.stopped.set()
    sampler.join()
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(60)
    failed = int(client.get("stat:failed") or 0)
    if failed:
        raise SystemExit(
            f"{workload}: {failed} of {n} jobs failed (the workers' output is discarded: "
            f"run `BENCH_WORKLOAD={workload} sidequest worker -r bench.agents.sidequest_jobs` "
            "by hand to see why)"
        )
    used, peak = sampler.between(first, last)
    machine = sampler.machine_between(first, last)
    return Drain(workload, n, last - first, used, peak, commands, machine, load)


_ENQUEUE = """
import sys
from bench.agents.sidequest_jobs import NoopJob
n = int(sys.argv[1])
for start in range(0, n, 5000):
    NoopJob.perform_bulk([[i] for i in range(start, min(n, start + 5000))])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="noop,redis,sleep")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average {Path('/proc/loadavg').read_text()}")
    workloads = options.workloads.split(",")
    database = Database() if "sql" in workloads else None
    with tempfile.TemporaryDirectory() as scratch:
        server = RedisServer(Path(scratch) / "redis")
        server.start()
        try:
            if database is not None:
                database.create()
            dsn = database.dsn if database is not None else ""
            for _ in range(options.repeats):
                for workload in workloads:
                    result = drain(server, workload, options.n, options.procs, Path(scratch), dsn)
                    print(result.line(), flush=True)
        finally:
            server.stop()
            if database is not None:
                database.drop()  # nothing when it was never created


if __name__ == "__main__":
    main()
