"""The async I/O benchmark (issue 19): `python -m bench.async_io`.

Each job awaits 10 ms, then runs one Redis command (bench/agents/aio_common.py), on
sidequest's event loop (`async def perform`), arq, SAQ and Dramatiq's AsyncIO
middleware, one worker process each, at 100 and 1,000 jobs in flight (sidequest's
`async_concurrency`, arq's `max_jobs`, SAQ's `concurrency`, Dramatiq's `--threads`).
Per system and concurrency, on a redis-server of its own:

- drain: N jobs enqueued beforehand; jobs/s from the first job's start to the moment
  the last one recorded itself, and the CPU time the worker's process tree spent
  meanwhile, per 1,000 jobs;
- start latency: then 2,000 jobs at 500 jobs/s, one by one; p50/p99 of enqueue to
  start (the job's first line), from the producer's and the job's clocks (one machine).

Peers run from their environments in bench/.venvs (bench/envs.py, pinned in
bench/requirements/); sidequest from the project's .venv. Prints one table (Markdown)
and writes it with the raw figures to bench/.work/results/async-io-<time>.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.agents.record import RECORD
from bench.envs import ensure_venv
from bench.redisd import RedisServer

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
SYSTEMS = ("sidequest", "arq", "saq", "dramatiq")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    system: str
    in_flight: int
    jobs: int
    drained: int
    seconds: float
    jobs_per_second: float
    cpu_per_1000: float
    latency_p50_ms: float
    latency_p99_ms: float
    note: str = ""


def python_of(system: str) -> Path:
    if system == "sidequest":
        return Path(sys.executable)
    bin_dir = ensure_venv(
        BENCH / ".venvs" / system,
        BENCH / "requirements" / f"{system}.txt",
        WORK / "logs" / f"venv-{system}.log",
    )
    return bin_dir / "python"


def worker_argv(system: str, python: Path, in_flight: int) -> list[str]:
    if system == "sidequest":
        return [
            str(python), "-m", "sidequest", "worker", "-r", "bench.agents.aio_sidequest",
            "-c", "10", "--async-concurrency", str(in_flight), "--log-level", "WARNING",
        ]  # fmt: skip
    if system == "dramatiq":
        return [
            str(python.parent / "dramatiq"), "bench.agents.aio_dramatiq",
            "--processes", "1", "--threads", str(in_flight),
        ]  # fmt: skip
    return [str(python), "-m", f"bench.agents.aio_{system}"]


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of `root` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def read_records(path: Path) -> dict[int, float]:
    data = path.read_bytes() if path.exists() else b""
    usable = len(data) - len(data) % RECORD.size
    return dict(RECORD.iter_unpack(data[:usable]))


def run_one(
    system: str, in_flight: int, jobs: int, server: RedisServer, logs: Path, cap: float
) -> Result:
    python = python_of(system)
    server.client.flushall()
    record = logs / f"{system}-{in_flight}.records"
    times = logs / f"{system}-{in_flight}.enqueued"
    record.unlink(missing_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": server.url,
        "BENCH_RECORD": str(record),
        "BENCH_SLOTS": str(in_flight),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    client = [str(python), "-m", "bench.agents.aio_client", system]
    subprocess.run([*client, "0", str(jobs), "0", str(times)], env=env, check=True, cwd=ROOT)
    log = (logs / f"{system}-{in_flight}.log").open("wb")
    worker = subprocess.Popen(
        worker_argv(system, python, in_flight),
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return _measure(system, in_flight, jobs, worker, record, times, client, env, cap)
    finally:
        _stop(worker)
        log.close()


def _measure(
    system: str,
    in_flight: int,
    jobs: int,
    worker: subprocess.Popen[bytes],
    record: Path,
    times: Path,
    client: list[str],
    env: dict[str, str],
    cap: float,
) -> Result:
    cpu_start: float | None = None
    deadline = time.monotonic() + cap + 30  # boot included
    size = jobs * RECORD.size
    finished = 0.0
    while True:
        current = record.stat().st_size if record.exists() else 0
        if cpu_start is None and current:
            cpu_start = tree_cpu(worker.pid)
            deadline = time.monotonic() + cap
        if current >= size:
            finished = time.time()
            break
        if time.monotonic() > deadline or worker.poll() is not None:
            finished = time.time()
            break
        time.sleep(0.005)
    cpu = tree_cpu(worker.pid) - (cpu_start or 0.0)
    starts = read_records(record)
    drained = len(starts)
    first = min(starts.values()) if starts else finished
    seconds = max(finished - first, 1e-9)
    note = "" if drained >= jobs else f"capped: {drained:,}/{jobs:,} in {cap:g} s"
    # Start latency at a steady 500 jobs/s.
    paced, rate = 2000, 500.0
    subprocess.run([*client, str(jobs), str(paced), str(rate), str(times)], env=env, check=True)
    wait_until = time.monotonic() + 30
    while time.monotonic() < wait_until:
        if len(read_records(record)) >= drained + paced:
            break
        time.sleep(0.01)
    started = read_records(record)
    enqueued = read_records(times)
    latencies = sorted((started[n] - at) * 1000 for n, at in enqueued.items() if n in started)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    if len(latencies) < paced:
        note += f" latency: {len(latencies)}/{paced} started"
    return Result(
        system,
        in_flight,
        jobs,
        drained,
        seconds,
        drained / seconds,
        cpu / max(drained, 1) * 1000,
        p50,
        p99,
        note.strip(),
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(5)


def table(results: list[Result]) -> str:
    lines = [
        "| system | in flight | jobs/s | CPU s / 1,000 jobs "
        "| start latency p50 / p99 (ms) | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.system} | {r.in_flight:,} | {r.jobs_per_second:,.0f} | "
            f"{r.cpu_per_1000:.3f} | {r.latency_p50_ms:.1f} / {r.latency_p99_ms:.1f} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--in-flight", default="100,1000")
    parser.add_argument("--n", type=int, default=10_000, help="jobs per drain")
    parser.add_argument("--cap", type=float, default=40.0, help="seconds a drain may run")
    options = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = WORK / "logs" / f"async-io-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    server = RedisServer(logs / "redis")
    server.start()
    results: list[Result] = []
    try:
        for system in options.systems.split(","):
            for in_flight in (int(v) for v in options.in_flight.split(",")):
                try:
                    result = run_one(system, in_flight, options.n, server, logs, options.cap)
                except (subprocess.CalledProcessError, OSError) as error:
                    print(f"{system} at {in_flight}: failed ({error}); see {logs}", flush=True)
                    nan = float("nan")
                    result = Result(system, in_flight, options.n, 0, nan, nan, nan, nan, nan)
                    result.note = "failed; see the logs"
                print(
                    f"{system} at {in_flight}: {result.jobs_per_second:,.0f} jobs/s, "
                    f"{result.cpu_per_1000:.3f} CPU s/1000, p99 {result.latency_p99_ms:.1f} ms "
                    f"{result.note}",
                    flush=True,
                )
                results.append(result)
    finally:
        server.stop()
    load = os.getloadavg()
    report = (
        f"Async I/O benchmark, {time.strftime('%Y-%m-%d %H:%M')} UTC, N={options.n:,}, "
        f"load average at the end {load[0]:.1f}\n\n{table(results)}\n"
    )
    print(report)
    out = WORK / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"async-io-{stamp}.md").write_text(report)
    (out / f"async-io-{stamp}.json").write_text(json.dumps([asdict(r) for r in results]))
    print(f"logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
