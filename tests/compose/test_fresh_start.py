"""`up` from nothing: three runs in a row, each from fresh volumes, each comes up healthy.

A fresh PostgreSQL volume is where start-up races live: the image initialises the
database with a server on its Unix socket only, then restarts it on TCP; a health check
over the socket passes during that window and `migrate` would meet the restart.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.compose.project import ComposeProject
from tests.stack.stack import COMPOSE_TIMINGS, compose_project, prepare_images
from tests.support.web_server import http

RUNS = 3


def service_states(project: ComposeProject) -> dict[str, tuple[str, str, int]]:
    """{service: (state, health, exit code)} of every container, exited ones included."""
    output = project.run("ps", "-a", "--format", "json").stdout
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {row["Service"]: (row["State"], row["Health"], row["ExitCode"]) for row in rows}


def test_three_ups_in_a_row_from_fresh_volumes_each_come_up_healthy(tmp_path: Path) -> None:
    project = compose_project(tmp_path, "sidequest-fresh")
    prepare_images(project)
    try:
        for run in range(1, RUNS + 1):
            project.down()  # volumes included: each run starts from nothing
            COMPOSE_TIMINGS[f"fresh up {run} to healthy"] = project.up(replicas=1)
            states = service_states(project)
            assert states.pop("migrate") == ("exited", "", 0), "migrations ran once and passed"
            long_running = set(project.services) - {"migrate"}
            assert set(states) == long_running
            for service, (state, health, _) in states.items():
                assert state == "running", f"run {run}: {service} is {state}"
                assert health == "healthy", f"run {run}: {service} is {health or 'unchecked'}"
            # Ready means the migrated database and Redis answer the web tier.
            ready = http("GET", f"{project.url('WEB_PORT')}/readyz", timeout=15)
            assert ready.status == 200, ready.body
    finally:
        project.down()
