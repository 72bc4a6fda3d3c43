"""Faults of the Compose stack in the middle of a burst: a worker container SIGKILLed, the
workers stopped and started, Redis restarted. Jobs are the signup workflow's (three per
signup, each with a lasting effect in PostgreSQL), so "every job completed" is read from
the database, and "how often a job ran" from the workers' JSON logs.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import orjson
import redis

from tests.compose.observe import (
    all_job_runs,
    docker,
    inspect,
    signup_burst,
    signup_outcome,
)
from tests.compose.project import ComposeProject
from tests.stack.control import ComposeControl, fresh_processes, held_jids, live_processes
from tests.stack.stack import Stack
from tests.support.polling import wait_for

# docker-compose.yml's stop_grace_period of the worker service.
WORKER_STOP_GRACE_SECONDS = 45
PROCESSED_SAMPLE = re.compile(r"^sidequest_jobs_processed_total\{[^}]*\} ([0-9.e+]+)$", re.M)


def compose_of(stack: Stack) -> tuple[ComposeProject, ComposeControl]:
    operator = stack.operator()
    assert stack.compose is not None and isinstance(operator, ComposeControl)
    return stack.compose, operator


def wait_for_workers(stack: Stack, count: int) -> None:
    wait_for(
        lambda: len(live_processes(stack.redis)) == count,
        timeout=90,
        interval=0.2,
        message=f"{count} live worker processes",
    )


def wait_for_signups(project: ComposeProject, prefix: str, accepted: int, timeout: float) -> None:
    wait_for(
        lambda: signup_outcome(project, prefix).complete(accepted),
        timeout=timeout,
        interval=1,
        message=f"the jobs of {accepted} signups to have their effects",
    )


def burst_jids_held(client: redis.Redis, jids: set[str]) -> dict[str, set[str]]:
    """Where the burst's jobs wait: {"queues": jids, "retry": jids, "inflight": jids}."""
    found: dict[str, set[str]] = {"queues": set(), "retry": set(), "inflight": set()}
    for member in client.smembers("queues"):
        queue = member.decode() if isinstance(member, bytes) else member
        found["queues"] |= {
            orjson.loads(raw)["jid"] for raw in client.lrange(f"queue:{queue}", 0, -1)
        }
    found["retry"] = {orjson.loads(raw)["jid"] for raw in client.zrange("retry", 0, -1)}
    for key in client.scan_iter("sidequest:inflight:*"):
        found["inflight"] |= {orjson.loads(raw)["jid"] for raw in client.hvals(key)}
    for key in client.scan_iter("sidequest:landing:*"):
        found["inflight"] |= {orjson.loads(raw)["jid"] for raw in client.lrange(key, 0, -1)}
    return {where: jids & held for where, held in found.items()}


def processed_in(project: ComposeProject, index: int) -> float:
    """The sum of sidequest_jobs_processed_total a worker container serves on :9191."""
    script = (
        "import urllib.request;"
        "print(urllib.request.urlopen('http://127.0.0.1:9191/metrics').read().decode())"
    )
    text = project.run("exec", "-T", "--index", str(index), "worker", "python", "-c", script).stdout
    return sum(float(value) for value in PROCESSED_SAMPLE.findall(text))


def test_a_worker_container_sigkilled_mid_burst_loses_no_job(stack: Stack) -> None:
    project, operator = compose_of(stack)
    per_container = int(project.env["WORKER_PROCESSES"])
    operator.scale(3)
    try:
        wait_for_workers(stack, 3 * per_container)
        containers = project.containers("worker")
        victim = containers[-1]
        prefix = f"kill-{uuid.uuid4().hex[:8]}"
        signups = 150
        jids = set(signup_burst(stack.shop, prefix, signups))

        def victim_holdings() -> set[str]:
            held: set[str] = set()
            for process in fresh_processes(stack.redis):
                if process.identity.startswith(victim[:12]):
                    held |= held_jids(stack.redis, process.identity)
            return held

        wait_for(
            lambda: victim_holdings() & jids,
            timeout=60,
            interval=0.05,
            message="the victim container to hold burst jobs",
        )
        docker("kill", "--signal", "KILL", victim)
        # What its processes held stays in Redis until their leases expire (20 s): read
        # it now. A log line may be lost with the process; this record cannot.
        held_at_kill = victim_holdings()
        # Its in-flight jobs come back once its processes' heartbeat leases expire.
        wait_for_signups(project, prefix, signups, timeout=300)

        runs = all_job_runs(project.containers("worker", all_states=True))
        started: Counter[str] = Counter()
        for container_runs in runs.values():
            started.update({jid: n for jid, n in container_runs.started.items() if jid in jids})
        twice = {jid for jid, count in started.items() if count > 1}
        print(
            f"\nSIGKILL of {victim[:12]}: {len(jids)} jobs, it held {len(held_at_kill & jids)}, "
            f"{len(twice)} ran twice"
        )
        assert held_at_kill & jids, "the kill hit the container while it held burst jobs"
        assert twice <= held_at_kill, "only jobs the killed container held ran again"
        welcomes = [
            mail
            for mail in stack.mail.messages()
            if any(r.startswith(prefix) for r in mail.recipients)
        ]
        assert len(welcomes) == signups, "each welcome mail sent once"
    finally:
        operator.scale(operator.replicas)


def test_workers_stopped_mid_burst_exit_in_time_and_requeue_what_they_had(stack: Stack) -> None:
    project, operator = compose_of(stack)
    assert operator.replicas == 1, "the metrics check reads one container"
    wait_for_workers(stack, int(project.env["WORKER_PROCESSES"]))
    prefix = f"stop-{uuid.uuid4().hex[:8]}"
    signups = 200
    jids = set(signup_burst(stack.shop, prefix, signups))
    (worker,) = project.containers("worker")
    wait_for(
        lambda: all_job_runs([worker])[worker].started.keys() & jids,
        timeout=60,
        interval=0.1,
        message="the worker to run burst jobs",
    )

    started = time.monotonic()
    project.run("stop", "worker", timeout=120)
    took = time.monotonic() - started
    state = inspect(worker)["State"]
    print(f"\ndocker compose stop worker: {took:.1f} s, exit code {state['ExitCode']}")
    assert state["ExitCode"] == 0, "stopped by SIGTERM, not SIGKILLed after the grace period"
    assert took < WORKER_STOP_GRACE_SECONDS

    held = burst_jids_held(stack.redis, jids)
    assert held["inflight"] == set(), "nothing left in a stopped process's hands"
    outcome = signup_outcome(project, prefix)
    done = outcome.preferences + outcome.welcomes_sent + outcome.notices_sent
    waiting = len(held["queues"]) + len(held["retry"])
    assert waiting > 0, "the burst outlasted the workers (or the test shows nothing)"
    assert done + waiting == len(jids), f"{done} done + {waiting} waiting != {len(jids)}"

    project.run("start", "worker", timeout=120)
    wait_for_signups(project, prefix, signups, timeout=300)
    # Counters start from zero with the container: they count only what ran since.
    ran_since = len(held["queues"]) + len(held["retry"])
    processed = wait_for(
        lambda: (value := processed_in(project, 1)) >= ran_since and value,
        timeout=30,
        interval=0.5,
        message="the restarted container's metrics",
    )
    assert processed == ran_since, f"{processed} processed, {ran_since} run since the start"


def test_redis_restarted_mid_burst_keeps_every_acknowledged_job(stack: Stack) -> None:
    project, _ = compose_of(stack)
    others = {
        container: inspect(container)["State"]["StartedAt"]
        for service in ("web", "worker")
        for container in project.containers(service)
    }
    prefix = f"redis-{uuid.uuid4().hex[:8]}"
    signups = 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        burst = pool.submit(signup_burst, stack.shop, prefix, signups, tolerate_503=True)
        wait_for(
            lambda: signup_outcome(project, prefix).users >= 20,
            timeout=60,
            interval=0.2,
            message="the burst under way",
        )
        project.run("restart", "redis", timeout=120)
        accepted = len(burst.result(timeout=300)) // 3
    print(f"\nredis restarted: {accepted} of {signups} signups accepted")
    assert accepted > 0
    wait_for_signups(project, prefix, accepted, timeout=300)
    for container, started_at in others.items():
        assert inspect(container)["State"]["StartedAt"] == started_at, f"{container} restarted"
