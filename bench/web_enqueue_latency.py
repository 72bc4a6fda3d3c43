"""How fast `POST /api/reports` answers under gunicorn: the request only schedules work.

    .venv/bin/python -m bench.web_enqueue_latency                  # 500 requests, 1 client
    .venv/bin/python -m bench.web_enqueue_latency --clients 4 --requests 2000
    .venv/bin/python -m bench.web_enqueue_latency --database-url postgresql://...

Starts its own redis-server (free port), a SQLite database seeded with `--orders`
orders (so each requested report would have to aggregate the whole year: the request
must not care), and gunicorn with web/gunicorn.conf.py (GUNICORN_WORKERS and
GUNICORN_THREADS as in the environment, 2 and 4 by default). No worker runs, so the
measurement is the web tier alone: validate, INSERT, LPUSH, UPDATE, answer. Each
client is a thread with one keep-alive HTTP connection sending requests back to back.
Prints p50/p90/p99/max and the throughput; `--json` writes them to a file.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procs
from bench.redisd import RedisServer, free_port
from shop.db import migrate, session_factory_for
from shop.seed import seed_orders

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps({"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-12-31"}).encode()
HEADERS = {"Content-Type": "application/json"}
TARGET_P99_MS = 20.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=500, help="measured requests (500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests first (50)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients (1)")
    parser.add_argument("--orders", type=int, default=100_000, help="orders to seed (100000)")
    parser.add_argument("--database-url", help="use this database instead of a new SQLite file")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args(argv)
    if arguments.requests < 1 or arguments.clients < 1 or arguments.warmup < 0:
        parser.error("--requests and --clients must be at least 1, --warmup at least 0")
    return arguments


class Client(threading.Thread):
    """Sends POST /api/reports over one keep-alive connection, timing each answer."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.count = count
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for _ in range(self.count):
                started = time.perf_counter()
                try:
                    connection.request("POST", "/api/reports", body=BODY, headers=HEADERS)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as error:
                    # The server may close an idle keep-alive connection: reconnect.
                    connection.close()
                    self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                elapsed = time.perf_counter() - started
                if response.status != 202:
                    self.errors.append(f"HTTP {response.status}")
                    continue
                self.latencies.append(elapsed)
        finally:
            connection.close()


def run_clients(port: int, total: int, clients: int) -> tuple[list[float], list[str], float]:
    """(latencies in seconds, errors, wall time) of `total` requests over `clients`."""
    shares = [total // clients + (1 if index < total % clients else 0) for index in range(clients)]
    threads = [Client(port, share) for share in shares if share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies = [value for thread in threads for value in thread.latencies]
    errors = [error for thread in threads for error in thread.errors]
    return latencies, errors, wall


def group_cpu_seconds(pgid: int) -> float:
    """User plus system CPU time of every living process in a process group.

    gunicorn's workers are never recycled (max_requests = 0), so the difference of two
    readings is the CPU the web tier spent in between, whatever else loads the machine.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for info in procs.list_processes():
        if info.pgrp != pgid:
            continue
        try:
            fields = Path(f"/proc/{info.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def load_average() -> float:
    return os.getloadavg()[0]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def seed(database_url: str, orders: int) -> None:
    migrate(database_url)
    factory = session_factory_for(database_url)
    seed_orders(factory, orders, replace=True)
    bind = factory.kw.get("bind")
    if bind is not None:
        bind.dispose()


def wait_healthy(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s; see {log}")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)
    procs.install_cleanup()
    with tempfile.TemporaryDirectory(prefix="web-enqueue-") as scratch:
        work = Path(scratch)
        redis_server = RedisServer(work / "redis")
        redis_server.start()
        try:
            database_url = arguments.database_url or f"sqlite:///{work / 'shop.db'}"
            print(f"seeding {arguments.orders} orders ...", flush=True)
            seed(database_url, arguments.orders)
            port = free_port()
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "BIND": f"127.0.0.1:{port}",
                "GUNICORN_ACCESS_LOG": "",
                "REDIS_URL": redis_server.url,
                "DATABASE_URL": database_url,
                "REPORTS_DIR": str(work / "reports"),
                "SECRET_KEY": "bench",
                "MIGRATE_ON_START": "false",
            }
            log = work / "gunicorn.log"
            command = [
                sys.executable, "-m", "gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:app"
            ]  # fmt: skip
            gunicorn = procs.spawn(command, env=env, cwd=ROOT, log=log)
            try:
                wait_healthy(port, gunicorn, log)
                run_clients(port, arguments.warmup, arguments.clients)
                cpu_before, load_before = group_cpu_seconds(gunicorn.pid), load_average()
                latencies, errors, wall = run_clients(port, arguments.requests, arguments.clients)
                cpu = group_cpu_seconds(gunicorn.pid) - cpu_before
                machine = {"load_before": load_before, "load_after": load_average(), "cpu": cpu}
            finally:
                procs.stop(gunicorn, grace=10)
            queued = redis_server.client.llen("queue:reports")
        finally:
            redis_server.stop()
    return report(arguments, latencies, errors, wall, queued, machine)


def report(
    arguments: argparse.Namespace,
    latencies: list[float],
    errors: list[str],
    wall: float,
    queued: int,
    machine: dict[str, float],
) -> int:
    if not latencies:
        print(f"no successful request; errors: {errors[:5]}", file=sys.stderr)
        return 1
    ordered = sorted(value * 1000 for value in latencies)
    figures = {
        "requests": len(ordered),
        "errors": len(errors),
        "clients": arguments.clients,
        "gunicorn_workers": int(os.environ.get("GUNICORN_WORKERS") or 2),
        "gunicorn_threads": int(os.environ.get("GUNICORN_THREADS") or 4),
        "database": "sqlite" if not arguments.database_url else "given",
        "seeded_orders": arguments.orders,
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p90_ms": round(percentile(ordered, 0.90), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "requests_per_second": round(len(ordered) / wall, 1),
        "web_cpu_ms_per_request": round(machine["cpu"] * 1000 / len(ordered), 2),
        "jobs_enqueued": queued,
        "cpu_count": os.cpu_count(),
        # Other processes on the machine stretch the tail: the load shows how busy it was.
        "load_average_1m": f"{machine['load_before']:.2f} -> {machine['load_after']:.2f}",
    }
    for key, value in figures.items():
        print(f"{key:<20} {value}")
    verdict = "meets" if figures["p99_ms"] < TARGET_P99_MS else "misses"
    print(f"p99 {figures['p99_ms']} ms {verdict} the target of {TARGET_P99_MS:g} ms")
    if errors:
        print(f"first errors: {errors[:5]}", file=sys.stderr)
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
