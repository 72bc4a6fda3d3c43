"""Periodic jobs in real `sidequest worker` processes: published at start from the config
file and from `sidequest.periodic()`, ticked by the scheduler thread of every process,
each tick run exactly once, paused, resumed and run now through the `sidequest periodic`
command.

The job is fixture_jobs.PeriodicJob, which records each run (its `periodic_at`, when it
started, its pid) in the test's Redis; `runs()` reads them back.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from sidequest.periodic_jobs.store import PeriodicStore
from tests.integration.sidequest.periodic_jobs.conftest import (
    config_file,
    mid_second,
    runs,
    sidequest,
    until,
)
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

StartWorker = Callable[..., WorkerProcess]
EX_CONFIG = 78
DECLARED = "tests.integration.sidequest.periodic_declared"


def every_second(label: str, **settings: Any) -> dict[str, Any]:
    return {"every": 1, "class": "PeriodicJob", "args": [label], **settings}


def beating(client: redis.Redis, count: int) -> bool:
    return len(client.smembers("processes")) == count


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@pytest.mark.slow
def test_three_workers_run_each_tick_once_through_a_kill_and_a_stop(
    redis_url: str,
    store: PeriodicStore,
    client: redis.Redis,
    start_worker: StartWorker,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    config = config_file(tmp_path, {"tick": every_second("tick", missed="all")})
    workers = [start_worker(redis_url, "-C", str(config)) for _ in range(3)]
    wait_for(lambda: beating(client, 3), timeout=30, message="three workers beating")
    started = time.time()
    # Kill and stop between two ticks: the processes then hold no periodic job, so any
    # tick run twice or not at all would be the ticker's doing, not at-least-once delivery.
    until(mid_second(started + 10))
    workers[0].kill()
    until(mid_second(started + 20))
    workers[1].signal(signal.SIGTERM)
    assert workers[1].wait(30) == 0
    until(mid_second(started + 30))
    ended = time.time()
    workers[2].signal(signal.SIGTERM)
    assert workers[2].wait(30) == 0

    done = runs(client)
    per_tick = Counter(run["tick"] for run in done)
    assert [tick for tick, count in per_tick.items() if count > 1] == [], "a tick ran twice"
    ticks = sorted(per_tick)
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), "a tick is missing"
    assert ticks[0] <= started + 1 and ticks[-1] >= ended - 1, (ticks[0], ticks[-1])
    # After the stop only the third worker was left, and it ran every tick alone.
    survivor = workers[2].pid
    assert {run["pid"] for run in done if run["tick"] > started + 21} == {survivor}
    # Tick to job start, over the ticks due once all three ran.
    lateness = [run["started"] - run["tick"] for run in done if run["tick"] > started]
    p50, p99 = percentile(lateness, 0.5), percentile(lateness, 0.99)
    record_property("periodic_lateness_p50_seconds", p50)
    record_property("periodic_lateness_p99_seconds", p99)
    print(
        f"\n{len(ticks)} ticks, each run once; tick to job start: p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {max(lateness) * 1000:.1f} ms"
    )
    assert p99 < 0.25
    assert all(not run["manual"] for run in done)


def test_a_paused_schedule_enqueues_nothing_and_resumes_on_the_next_tick(
    redis_url: str, client: redis.Redis, start_worker: StartWorker, tmp_path: Path
) -> None:
    # missed: all, so that a resume that made up the paused ticks would show.
    config = config_file(tmp_path, {"tick": every_second("tick", missed="all")})
    start_worker(redis_url, "-C", str(config))
    wait_for(lambda: len(runs(client)) >= 2, timeout=30, message="two ticks run")
    until(mid_second(time.time()))

    paused = sidequest("periodic", "pause", "tick", redis_url=redis_url)
    assert paused.returncode == 0, paused.stderr
    paused_at = time.time()
    listed = sidequest("periodic", "list", "--json", redis_url=redis_url)
    assert json.loads(listed.stdout)[0]["paused"] is True
    until(mid_second(paused_at + 3))
    # The resume happens somewhere inside the command's run, between these two times.
    asked_at = time.time()
    resumed = sidequest("periodic", "resume", "tick", redis_url=redis_url)
    resumed_at = time.time()
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("resumed tick: next tick ")
    wait_for(
        lambda: any(run["tick"] > resumed_at for run in runs(client)),
        timeout=10,
        message="a tick after the resume",
    )

    ticks = [run["tick"] for run in runs(client)]
    # A tick of the pause's own second may have run before it took effect; none after.
    assert [tick for tick in ticks if paused_at < tick <= asked_at] == []
    # The first tick after the resume ran: none of the paused ones was made up.
    first = min(tick for tick in ticks if tick > paused_at)
    assert int(asked_at) + 1 <= first <= int(resumed_at) + 1
    assert sorted(tick for tick in ticks if tick >= first) == list(range(first, max(ticks) + 1))
    assert sidequest("periodic", "resume", "tick", redis_url=redis_url).stdout == (
        "tick was not paused\n"
    )


def test_periodic_run_enqueues_at_once_and_its_outcome_is_listed(
    redis_url: str, client: redis.Redis, start_worker: StartWorker, tmp_path: Path
) -> None:
    yearly = {"cron": "0 0 1 1 *", "class": "PeriodicJob", "args": ["yearly"]}
    config = config_file(tmp_path, {"yearly": yearly})
    start_worker(redis_url, "-C", str(config))
    wait_for(lambda: beating(client, 1), timeout=30, message="the worker beating")

    result = sidequest("periodic", "run", "yearly", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("enqueued PeriodicJob ")
    jid = result.stdout.split()[2]
    (run,) = wait_for(lambda: runs(client), timeout=10, message="the run")
    assert (run["jid"], run["label"], run["manual"]) == (jid, "yearly", True)

    def listed() -> dict[str, Any] | None:
        (entry,) = json.loads(sidequest("periodic", "list", "--json", redis_url=redis_url).stdout)
        return entry if entry["run_outcome"] else None

    entry = wait_for(listed, timeout=10, message="the run's outcome listed")
    assert (entry["run_jid"], entry["run_outcome"]) == (jid, "succeeded")
    assert entry["last_tick"] is None  # the schedule's own ticks are untouched
    # At once: from the command's request to the job's start.
    assert run["started"] - entry["run_at"] < 0.5
    assert run["tick"] == int(entry["run_at"])


def test_the_config_file_and_sidequest_periodic_both_publish_and_run(
    redis_url: str,
    store: PeriodicStore,
    client: redis.Redis,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, {"from_file": every_second("file", queue="default")})
    start_worker(redis_url, "-C", str(config), "-r", DECLARED)

    def both_ran() -> bool:
        return {run["label"] for run in runs(client)} == {"file", "code"}

    wait_for(both_ran, timeout=30, message="a run of each schedule")
    definitions = store.definitions()
    assert sorted(definitions) == ["from_code", "from_file"]
    # Resolved against the registered class: its queue and retry are in the definition.
    assert definitions["from_code"].schedule.queue == "default"
    assert definitions["from_code"].schedule.retry is True
    for run in runs(client):
        assert isinstance(run["tick"], int)  # self.periodic_at
        assert 0 <= run["started"] - run["tick"] < 1

    listed = sidequest("periodic", "list", redis_url=redis_url)
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        "name", "schedule", "zone", "next", "tick", "last", "tick", "jid", "outcome", "paused"
    ]  # fmt: skip
    assert [row.split()[:4] for row in rows] == [
        ["from_code", "every", "1", "s"],
        ["from_file", "every", "1", "s"],
    ]


def test_only_a_periodic_key_or_declared_schedules_change_the_published_set(
    redis_url: str,
    store: PeriodicStore,
    client: redis.Redis,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    start_worker(redis_url, "-C", str(config_file(tmp_path, {"tick": every_second("tick")})))
    wait_for(lambda: "tick" in store.definitions(), timeout=30, message="published")

    # Another pool without schedules leaves them alone...
    start_worker(redis_url, "-C", str(config_file(tmp_path, None)))
    wait_for(lambda: beating(client, 2), timeout=30, message="both beating")
    assert sorted(store.definitions()) == ["tick"]
    # ... and an empty :periodic: removes them all.
    start_worker(redis_url, "-C", str(config_file(tmp_path, {})))
    wait_for(lambda: not store.definitions(), timeout=30, message="schedules removed")
    count = len(runs(client))
    until(mid_second(time.time() + 2))
    assert len(runs(client)) <= count + 1  # a tick claimed as the removal landed, at most


def test_a_name_in_the_config_file_and_in_code_stops_the_worker_with_status_78(
    redis_url: str, store: PeriodicStore, tmp_path: Path
) -> None:
    config = config_file(tmp_path, {"from_code": every_second("file")})

    result = sidequest(
        "worker",
        "-C",
        str(config),
        "-r",
        "tests.integration.sidequest.fixture_jobs",
        "-r",
        DECLARED,
        redis_url=redis_url,
    )

    assert result.returncode == EX_CONFIG, result.stderr
    assert "error: periodic schedule 'from_code' is in the config file and declared" in (
        result.stderr
    )
    assert store.definitions() == {}


def test_a_bad_periodic_entry_stops_the_worker_with_status_78_naming_it(
    redis_url: str, tmp_path: Path
) -> None:
    config = config_file(tmp_path, {"nightly": {"cron": "61 * * * *", "class": "PeriodicJob"}})

    result = sidequest("worker", "-C", str(config), redis_url=redis_url)

    assert result.returncode == EX_CONFIG
    assert "error: periodic schedule 'nightly': cron: '61 * * * *'" in result.stderr


def test_unknown_names_are_refused_naming_the_published_ones(
    redis_url: str, store: PeriodicStore, start_worker: StartWorker, tmp_path: Path
) -> None:
    start_worker(redis_url, "-C", str(config_file(tmp_path, {"tick": every_second("tick")})))
    wait_for(store.definitions, timeout=30, message="published")
    for command in ("pause", "resume", "run"):
        result = sidequest("periodic", command, "nope", redis_url=redis_url)
        assert result.returncode == 1
        assert result.stderr == "error: no periodic job is named 'nope' (published: tick)\n"


def test_a_failing_claim_does_not_delay_scheduled_jobs(
    redis_url: str, client: redis.Redis, start_worker: StartWorker, tmp_path: Path
) -> None:
    # Every push to queue:broken fails (WRONGTYPE), so every claim of the schedule fails.
    client.set("queue:broken", "not a list")
    config = config_file(tmp_path, {"broken": every_second("broken", queue="broken")})
    worker = start_worker(redis_url, "-C", str(config))
    wait_for(
        lambda: "periodic ticker: Redis error" in worker.log(),
        timeout=30,
        message="the claim failing",
    )

    enqueued = sidequest("enqueue", "PeriodicJob", '["later"]', "--in", "1", redis_url=redis_url)
    assert enqueued.returncode == 0, enqueued.stderr
    asked = time.time()
    (later,) = wait_for(lambda: runs(client), timeout=5, message="the scheduled job")
    assert later["label"] == "later"
    assert later["started"] - asked < 1.5
    until(mid_second(time.time() + 1))
    # Logged once for the whole run of errors; the ticker keeps trying with its backoff.
    assert worker.log().count("periodic ticker: Redis error") == 1
    assert worker.running()
