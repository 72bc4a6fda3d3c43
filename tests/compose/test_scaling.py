"""`make scale N=4`: four worker containers, each discovered by Prometheus, each working."""

from __future__ import annotations

import subprocess
import uuid

from tests.compose.observe import all_job_runs, signup_burst, signup_outcome
from tests.compose.project import REPO
from tests.stack.control import live_processes
from tests.stack.stack import Stack
from tests.support.polling import wait_for

REPLICAS = 4
BURST_SIGNUPS = 667  # three jobs each: 2,001 jobs


def test_make_scale_4_runs_four_discovered_containers_that_share_a_burst(stack: Stack) -> None:
    project, operator = stack.compose, stack.operator()
    assert project is not None
    per_container = int(project.env["WORKER_PROCESSES"])
    try:
        subprocess.run(
            ["make", "--no-print-directory", "scale", f"N={REPLICAS}",
             f"COMPOSE={project.shell_command()}"],
            cwd=REPO, env=project.environment(), check=True, timeout=300,
            capture_output=True, text=True,
        )  # fmt: skip
        containers = project.containers("worker")
        assert len(containers) == REPLICAS

        def four_worker_targets_up() -> bool:
            return stack.prometheus.targets().get("worker") == ["up"] * REPLICAS

        wait_for(four_worker_targets_up, timeout=60, interval=0.5, message="4 worker targets up")
        identities = wait_for(
            lambda: len(found := live_processes(stack.redis)) == REPLICAS * per_container and found,
            timeout=60,
            interval=0.2,
            message=f"{REPLICAS * per_container} live worker processes",
        )
        # A process's identity starts with its hostname: the container's short id.
        assert {identity.split(":")[0] for identity in identities} == {
            container[:12] for container in containers
        }

        prefix = f"scale-{uuid.uuid4().hex[:8]}"
        jids = set(signup_burst(stack.shop, prefix, BURST_SIGNUPS))
        assert len(jids) == 3 * BURST_SIGNUPS
        wait_for(
            lambda: signup_outcome(project, prefix).complete(BURST_SIGNUPS),
            timeout=600,
            interval=1,
            message=f"the {len(jids)} jobs of {BURST_SIGNUPS} signups to have their effects",
        )
        ran_there = {
            container[:12]: len(set(runs.started) & jids)
            for container, runs in all_job_runs(containers).items()
        }
        print(f"\nburst of {len(jids)} jobs over {REPLICAS} containers: {ran_there}")
        assert all(ran_there.values()), f"a container ran none of the burst: {ran_there}"
    finally:
        operator.remove_added()
