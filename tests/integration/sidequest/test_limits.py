"""Concurrency and rate limits across real worker processes (sidequest.limits).

Three processes x 10 threads share one key limited to 3 slots; a rate limit of 50/s is
shared by four processes. The jobs (limit_jobs.py) record in Redis what really ran at
once and when each started.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import redis

from tests.integration.sidequest.limit_jobs import (
    ConfigLimitedJob,
    RatedJob,
    ShortLeaseSlotJob,
    SlotJob,
    max_key,
    running_key,
)
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

LIMIT_JOBS = "tests.integration.sidequest.limit_jobs"
JOBS = 120
SECONDS = 0.2
IDEAL = JOBS / 3 * SECONDS  # 8 s: 40 rounds of three 0.2 s jobs


def start_workers(
    start_worker: Callable[..., WorkerProcess], url: str, client: redis.Redis, count: int
) -> list[WorkerProcess]:
    workers = [
        start_worker(url, "-c", "10", "--log-level", "WARNING", requires=(LIMIT_JOBS,))
        for _ in range(count)
    ]
    wait_for(lambda: len(client.smembers("processes")) == count, message="workers up")
    return workers


def runs(client: redis.Redis, account: str) -> Counter[str]:
    return Counter(client.lrange(f"test:limits:done:{account}", 0, -1))


def test_three_processes_never_run_more_than_three_of_one_key(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_workers(start_worker, enqueue_to, redis_client, 3)
    began = time.monotonic()
    jids = {SlotJob.perform_later("a", SECONDS).jid for _ in range(JOBS)}
    wait_for(lambda: len(runs(redis_client, "a")) >= JOBS, timeout=60, message="all jobs ran")
    elapsed = time.monotonic() - began
    done = runs(redis_client, "a")
    print(f"\n120 jobs, to=3, 0.2 s each, 3 processes x 10 threads: {elapsed:.2f}s (ideal 8 s)")
    assert set(done) == jids and set(done.values()) == {1}
    assert int(redis_client.get(max_key("a")) or 0) == 3
    assert redis_client.zcard("retry") == 0
    assert elapsed <= IDEAL * 1.2
    # Every slot is given back (the last release may linger its 5 ms after the job
    # recorded its run) and nothing is left waiting.
    wait_for(
        lambda: redis_client.zcard("sidequest:limits:slots:acct:a") == 0,
        timeout=10,
        message="every slot given back",
    )
    assert redis_client.llen("sidequest:limits:parked:acct:a") == 0


def test_a_killed_process_gives_its_slots_back_when_its_lease_expires(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    workers = start_workers(start_worker, enqueue_to, redis_client, 3)
    began = time.monotonic()
    jids = {SlotJob.perform_later("a", SECONDS).jid for _ in range(JOBS)}
    # Kill a process while it runs a job of the key (it holds a slot).
    wait_for(lambda: len(runs(redis_client, "a")) >= 30, timeout=30, message="a quarter done")
    pids = {worker.pid: worker for worker in workers}
    member = wait_for(
        lambda: next(iter(redis_client.smembers(running_key("a"))), None),
        timeout=20,
        message="a running job",
    )
    victim = pids[int(member.split(":")[0])]
    victim_pid = victim.pid
    victim.kill()
    killed_at = time.monotonic()
    # Its job never finishes: take it out of the running set, as its process is gone.
    for entry in redis_client.smembers(running_key("a")):
        if entry.startswith(f"{victim_pid}:"):
            redis_client.srem(running_key("a"), entry)
    wait_for(lambda: set(runs(redis_client, "a")) >= jids, timeout=60, message="all jobs ran")
    elapsed = time.monotonic() - began
    done = runs(redis_client, "a")
    starts = [line.split() for line in redis_client.lrange("test:limits:starts:a", 0, -1)]
    victims = {jid for jid, pid, _ in starts if int(pid) == victim_pid}
    print(
        f"\n120 jobs, to=3, one of 3 processes SIGKILLed {killed_at - began:.2f}s in: "
        f"{elapsed:.2f}s (ideal 8 s, lease 1.5 s)"
    )
    assert int(redis_client.get(max_key("a")) or 0) == 3
    # Each ran to its end once; only a job of the killed process may have run again.
    assert all(count == 1 or jid in victims for jid, count in done.items())
    assert redis_client.zcard("retry") == 0
    # Slots of the killed process came back after its lease (1.5 s), not after the
    # 5-minute duration: the whole run ends close to the ideal.
    assert elapsed <= IDEAL * 1.2 + 1.5 + 1.0
    wait_for(
        lambda: redis_client.zcard("sidequest:limits:slots:acct:a") == 0,
        message="every slot given back",
    )


def test_jobs_of_other_keys_start_without_waiting(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_workers(start_worker, enqueue_to, redis_client, 3)
    began = time.monotonic()
    for _ in range(JOBS):
        SlotJob.perform_later("a", SECONDS)
    enqueued = time.time()
    others = [f"b{n}" for n in range(JOBS)]
    for account in others:
        SlotJob.perform_later(account, 0.0)
    wait_for(
        lambda: all(redis_client.llen(f"test:limits:done:{a}") for a in others),
        timeout=30,
        message="the jobs of other keys ran",
    )
    others_done = time.monotonic() - began
    latencies = sorted(
        float(redis_client.lindex(f"test:limits:starts:{a}", 0).split()[2]) - enqueued
        for a in others
    )
    blocked_done = len(runs(redis_client, "a"))
    print(
        f"\n120 jobs of other keys behind 120 of a key at its limit: all done "
        f"{others_done:.2f}s after the first enqueue (when {blocked_done} of the limited "
        f"ones had run); start p50 {latencies[59] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    # Held behind the limited key, the last would start after its 8 s.
    assert blocked_done < JOBS / 2
    assert latencies[-1] < 2.0
    wait_for(lambda: len(runs(redis_client, "a")) >= JOBS, timeout=60, message="the rest ran")
    assert int(redis_client.get(max_key("a")) or 0) == 3


def busiest_window(times: list[float], width: float) -> int:
    """The most of `times` in any half-open window of `width`, wherever it begins (the
    count can only rise at one of the times, so windows starting there are enough)."""
    ordered = sorted(times)
    end = 0
    busiest = 0
    for index, start in enumerate(ordered):
        while end < len(ordered) and ordered[end] < start + width:
            end += 1
        busiest = max(busiest, end - index)
    return busiest


class StartLog:
    """Copies the limiter's own log of starts (the sorted set, trimmed to the window)
    every 50 ms, so that every admission with its Redis-clock time is seen."""

    def __init__(self, url: str, key: str):
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.key = key
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.seen.update(self.client.zrange(self.key, 0, -1, withscores=True))

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.seen.update(self.client.zrange(self.key, 0, -1, withscores=True))
        self.client.close()
        return self.seen


def test_a_rate_limit_holds_in_every_window_across_four_processes(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_workers(start_worker, enqueue_to, redis_client, 4)
    count = 500  # 50/s for 10 s
    log = StartLog(enqueue_to, "sidequest:limits:starts:RatedJob")
    began = time.monotonic()
    jids = {RatedJob.perform_later(n).jid for n in range(count)}
    wait_for(lambda: redis_client.llen("test:limits:rated") >= count, timeout=60, message="all ran")
    elapsed = time.monotonic() - began
    admitted = log.stop()
    entries = [line.split() for line in redis_client.lrange("test:limits:rated", 0, -1)]
    assert {jid for jid, _ in entries} == jids and len(entries) == count
    # One admission per run, each in the limiter's log with its Redis-clock time.
    assert len(admitted) == count
    busiest = busiest_window(list(admitted.values()), 1.0)
    # What the jobs saw: their own clock when perform began, some milliseconds after
    # their admission, by a lag that varies from job to job.
    observed = busiest_window([float(at) for _, at in entries], 1.0)
    print(
        f"\n500 jobs at 50/s over 4 processes: {elapsed:.2f}s; busiest 1 s window: "
        f"{busiest} admissions (Redis clock), {observed} perform starts (job clock)"
    )
    assert busiest <= 50
    assert redis_client.zcard("retry") == 0
    assert int(redis_client.get("stat:failed") or 0) == 0
    assert elapsed < 12.0


def test_a_live_process_keeps_its_slot_past_the_duration(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    """`duration` (2 s here) bounds a slot's life after its process's last refresh; the
    heartbeat (0.2 s) refreshes it, so a 3 s job keeps its slot to the end."""
    start_workers(start_worker, enqueue_to, redis_client, 2)
    for _ in range(4):
        ShortLeaseSlotJob.perform_later("long", 3.0)
    wait_for(lambda: len(runs(redis_client, "long")) >= 4, timeout=30, message="all ran")
    assert int(redis_client.get(max_key("long")) or 0) == 3


def test_parked_jobs_survive_a_graceful_stop(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    """SIGTERM with running jobs past the shutdown timeout and jobs parked: the running
    ones go back to their queue and give their slots back, the parked ones stay parked
    and run once another worker frees slots; none is lost, none fails."""
    first = start_worker(enqueue_to, "-c", "10", "-t", "0.5", requires=(LIMIT_JOBS,))
    jids = {SlotJob.perform_later("stop", 1.5).jid for _ in range(10)}
    wait_for(
        lambda: redis_client.llen("sidequest:limits:parked:acct:stop") == 7,
        message="three running, seven parked",
    )
    first.signal(signal.SIGTERM)
    assert first.wait(15) == 0
    assert redis_client.zcard("sidequest:limits:slots:acct:stop") == 0
    assert (
        redis_client.llen("queue:default") + redis_client.llen("sidequest:limits:parked:acct:stop")
        == 10
    )
    # The three cut short never recorded their end: their process exited.
    redis_client.delete(running_key("stop"))
    start_worker(enqueue_to, "-c", "10", requires=(LIMIT_JOBS,))
    wait_for(lambda: set(runs(redis_client, "stop")) >= jids, timeout=30, message="all ran")
    assert int(redis_client.get(max_key("stop")) or 0) == 3
    assert redis_client.zcard("retry") == 0


def test_limits_declared_in_the_config_file_hold_like_decorated_ones(
    enqueue_to: str,
    redis_client: redis.Redis,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(
        ":limits:\n"
        "  ConfigLimitedJob:\n"
        '    concurrency: {to: 2, key: "acct:{account}", duration: 60}\n'
    )
    start_worker(enqueue_to, "-c", "10", "-C", str(config), requires=(LIMIT_JOBS,))
    jids = {ConfigLimitedJob.perform_later("cfg", 0.3).jid for _ in range(8)}
    wait_for(lambda: set(runs(redis_client, "cfg")) >= jids, timeout=30, message="all ran")
    assert int(redis_client.get(max_key("cfg")) or 0) == 2
    assert redis_client.hget("sidequest:limits:concurrency", "acct:cfg") == "2"


def test_a_config_file_limit_on_an_unknown_class_stops_the_worker_with_status_78(
    enqueue_to: str, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(":limits:\n  NoSuchJob:\n    rate: {limit: 5, per: 1}\n")
    worker = start_worker(enqueue_to, "-C", str(config), requires=(LIMIT_JOBS,))
    assert worker.wait(30) == 78
    assert "NoSuchJob" in worker.log()
