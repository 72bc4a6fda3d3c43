"""What batch membership costs, and how soon a batch's callback starts (issue 18).

    .venv/bin/python -m bench.batches                       # 20,000 jobs, 200 batches
    .venv/bin/python -m bench.batches --jobs 50000 --batches 500 --json out.json

Starts its own redis-server and `sidequest worker` processes (-c 10), then:
1. overhead: drains `--jobs` no-op jobs enqueued without a batch, then the same number
   enqueued in one batch, each into one worker process; reports jobs/s and Redis
   commands per job (INFO commandstats during the drain, commands run inside the Lua
   scripts included) for both, and the enqueue's commands per job;
2. callback latency: `--batches` batches of `--size` jobs, one at a time, on an idle
   worker: from the end of the batch's last job (its perform noting `time.time()`) to
   the start of its on_complete callback; p50/p90/p99/max.
Targets (issue 18): at most 1 extra Redis command per job on average, callback latency
p99 at most 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sidequest
from bench import procs
from bench.batch_jobs import NoopJob, TimedCallbackJob, TimedMemberJob
from bench.redisd import RedisServer
from sidequest.adapter import set_adapter
from sidequest.batches import Batch

ROOT = Path(__file__).resolve().parents[1]
TARGET_EXTRA_COMMANDS = 1.0
TARGET_P99_MS = 5.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per drain (20000)")
    parser.add_argument("--batches", type=int, default=200, help="batches timed (200)")
    parser.add_argument("--size", type=int, default=5, help="jobs per timed batch (5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.001)


class Worker:
    def __init__(self, server: RedisServer, log: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": server.url}
        command = [sys.executable, "-m", "sidequest", "worker", "-r", "bench.batch_jobs"]
        command += ["-c", "10", "--log-level", "WARNING"]
        self.process = procs.spawn(command, env=env, cwd=ROOT, log=log)

    def stop(self) -> None:
        procs.stop(self.process, grace=10)


def drain(server: RedisServer, work: Path, jobs: int, in_batch: bool) -> dict[str, float]:
    server.reset()
    client = server.client
    client.config_resetstat()
    started = time.perf_counter()
    if in_batch:
        with Batch("bench", on_complete=(NoopJob, [0])):
            NoopJob.perform_bulk([[n] for n in range(jobs)])
    else:
        NoopJob.perform_bulk([[n] for n in range(jobs)])
    enqueue_seconds = time.perf_counter() - started
    enqueue_commands = sum(server.command_calls().values())
    client.config_resetstat()
    worker = Worker(server, work / f"drain-{'batch' if in_batch else 'plain'}.log")
    try:
        wait(lambda: int(client.get("stat:processed") or 0) > 0, 30, "the first job")
        first = time.perf_counter()
        target = jobs + (1 if in_batch else 0)  # the callback runs too
        wait(lambda: int(client.get("stat:processed") or 0) >= target, 300, "the drain")
        seconds = time.perf_counter() - first
        calls = server.command_calls()
    finally:
        worker.stop()
    return {
        "jobs_per_second": round(jobs / seconds),
        "commands_per_job": round(sum(calls.values()) / target, 3),
        "enqueue_jobs_per_second": round(jobs / enqueue_seconds),
        "enqueue_commands_per_job": round(enqueue_commands / jobs, 4),
        "commands": dict(sorted(calls.items())),  # type: ignore[dict-item]
    }


def callback_latency(server: RedisServer, work: Path, batches: int, size: int) -> list[float]:
    server.reset()
    client = server.client
    worker = Worker(server, work / "latency.log")
    latencies: list[float] = []
    try:
        wait(lambda: bool(client.smembers("processes")), 30, "the worker's heartbeat")
        for _ in range(batches + 10):
            batch = Batch(on_complete=(TimedCallbackJob, []))
            with batch:
                for n in range(size):
                    TimedMemberJob.perform_later(n)
            key = f"bench:callback:{batch.bid}"
            wait(lambda key=key: bool(client.exists(key)), 10, "a callback")  # type: ignore[misc]
            last_end = max(
                float(value) for value in client.lrange(f"bench:ends:{batch.bid}", 0, -1)
            )
            latencies.append(float(client.get(key) or 0) - last_end)
    finally:
        worker.stop()
    return latencies[10:]  # the first batches warm the worker up


def percentile(ordered: list[float], fraction: float) -> float:
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)
    procs.install_cleanup()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-batches-") as scratch:
        work = Path(scratch)
        server = RedisServer(work / "redis")
        server.start()
        sidequest.configure(server.url)
        try:
            plain = drain(server, work, arguments.jobs, in_batch=False)
            batched = drain(server, work, arguments.jobs, in_batch=True)
            latencies = callback_latency(server, work, arguments.batches, arguments.size)
        finally:
            set_adapter(None)
            server.stop()
    ordered = sorted(value * 1000 for value in latencies)
    extra = batched["commands_per_job"] - plain["commands_per_job"]
    figures: dict[str, object] = {
        "jobs": arguments.jobs,
        "plain": plain,
        "batch": batched,
        "extra_commands_per_job": round(extra, 3),
        "throughput_ratio_batch_to_plain": round(
            batched["jobs_per_second"] / plain["jobs_per_second"], 3
        ),
        "callback_batches": len(ordered),
        "callback_batch_size": arguments.size,
        "callback_p50_ms": round(percentile(ordered, 0.50), 2),
        "callback_p90_ms": round(percentile(ordered, 0.90), 2),
        "callback_p99_ms": round(percentile(ordered, 0.99), 2),
        "callback_max_ms": round(ordered[-1], 2),
        "callback_mean_ms": round(statistics.fmean(ordered), 2),
        "cpu_count": os.cpu_count(),
        "load_average_1m": f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}",
    }
    for key, value in figures.items():
        print(f"{key:<32} {value}")
    print(
        f"extra commands per job {extra:.3f}: "
        f"{'meets' if extra <= TARGET_EXTRA_COMMANDS else 'misses'} the target of "
        f"{TARGET_EXTRA_COMMANDS:g}; callback p99 {figures['callback_p99_ms']} ms: "
        f"{'meets' if figures['callback_p99_ms'] <= TARGET_P99_MS else 'misses'} "  # type: ignore[operator]
        f"the target of {TARGET_P99_MS:g} ms"
    )
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
