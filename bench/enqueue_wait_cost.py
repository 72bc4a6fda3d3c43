"""What `enqueue_wait_replicas` costs an enqueue: latency and throughput with and without WAIT.

    .venv/bin/python -m bench.enqueue_wait_cost            # 5,000 enqueues per mode, 3 rounds

On a loopback Sentinel deployment (a master, two replicas, three sentinels:
tests/support/sentinel_cluster.py), one client thread enqueues jobs one by one, each
`push` waiting for its reply, in four modes: the master's redis:// URL; the sentinel
URL; the sentinel URL with WAIT for 1 replica; with WAIT for 2. Printed per mode: the
enqueues per second and the latency's p50 and p99 (one enqueue = one round trip, WAIT
included). Loopback has no network latency: on a real network WAIT adds at least one
round trip between master and replica to every enqueue.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sidequest import payload
from sidequest.client import RedisAdapter
from sidequest.connection import connect
from sidequest.replication import NO_WAIT, EnqueueWait
from tests.support.sentinel_cluster import SentinelCluster


def measure(adapter: RedisAdapter, count: int) -> tuple[float, float, float]:
    """(enqueues/s, p50 ms, p99 ms) over `count` enqueues."""
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(count):
        job = payload.build("BenchJob", [n], queue="bench")
        before = time.perf_counter()
        adapter.push(job)
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return count / elapsed, cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    with tempfile.TemporaryDirectory() as scratch:
        cluster = SentinelCluster(Path(scratch)).start()
        try:
            modes = {
                "redis:// (master)": RedisAdapter(connect(cluster.master.url), NO_WAIT),
                "sentinel": RedisAdapter(connect(cluster.url), NO_WAIT),
                "sentinel + WAIT 1": RedisAdapter(connect(cluster.url), EnqueueWait(1, 1.0)),
                "sentinel + WAIT 2": RedisAdapter(connect(cluster.url), EnqueueWait(2, 1.0)),
            }
            for round_number in range(options.rounds):
                for name, adapter in modes.items():
                    rate, p50, p99 = measure(adapter, options.n)
                    print(
                        f"round {round_number + 1} {name:18} {rate:8,.0f} enqueues/s  "
                        f"p50 {p50:6.3f} ms  p99 {p99:6.3f} ms",
                        flush=True,
                    )
                cluster.master.client().delete("queue:bench")
        finally:
            cluster.stop()
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
