"""A Compose project of docker-compose.yml, run by the tests on this machine's Docker.

`ComposeProject` runs `docker compose -p NAME` with the environment the offline run needs:
the stand-in images of infra/offline (unless SIDEQUEST_COMPOSE_IMAGES=official, for a
machine that reaches Docker Hub), free loopback ports for every published port, and
whatever the test adds (a prometheus.yml with 1 s intervals, fewer worker processes).
Grafana has no stand-in, so the offline run names every other service; its dashboard's
queries are run against the stack's Prometheus instead (tests/stack).

Each project is torn down with its volumes (`down -v`) by whoever brought it up, and
before being brought up, in case an earlier run was killed before its teardown.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
OFFLINE_IMAGES = REPO / "infra" / "offline" / "images.env"
# Every service but Grafana, which has no stand-in image.
OFFLINE_SERVICES = ("redis", "postgres", "mailpit", "migrate", "web", "worker", "prometheus")
PUBLISHED_PORTS = ("WEB_PORT", "REDIS_PORT", "PROMETHEUS_PORT", "MAILPIT_PORT", "GRAFANA_PORT")
# The shape the Compose tests run: one worker container of one process with one thread,
# so the tests that add workers have free cores to show a gain (2-core machines).
TEST_SHAPE = {"WORKER_PROCESSES": "1", "SIDEQUEST_CONCURRENCY": "1"}
TEST_REPLICAS = 1


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def offline_images() -> bool:
    return os.environ.get("SIDEQUEST_COMPOSE_IMAGES", "offline") != "official"


def build_offline_images() -> None:
    """The stand-in images, built once per machine and again when their recipe changes."""
    subprocess.run(
        [sys.executable, "-m", "infra.offline", "build"], cwd=REPO, check=True, timeout=1800
    )


def fast_prometheus_config(directory: Path) -> Path:
    """infra/prometheus/prometheus.yml with 1 s scrape, evaluation and discovery intervals.

    Only the intervals change (the jobs, discovery and rule files are the real ones), so
    the tests see scrapes, replicas and alerts within seconds.
    """
    text = (REPO / "infra" / "prometheus" / "prometheus.yml").read_text()
    text = re.sub(r"(scrape_interval|evaluation_interval|refresh_interval): \d+s", r"\1: 1s", text)
    text = re.sub(r"scrape_timeout: \d+s", "scrape_timeout: 1s", text)
    path = directory / "prometheus.yml"
    path.write_text(text)
    path.chmod(0o644)  # read by the container's `nobody`
    return path


@dataclass
class ComposeProject:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = OFFLINE_SERVICES
    log: list[str] = field(default_factory=list)

    @classmethod
    def for_tests(cls, name: str, **env: str) -> ComposeProject:
        """A project on free loopback ports, with the stand-in images when offline."""
        ports = free_ports(len(PUBLISHED_PORTS))
        merged = {
            variable: str(port) for variable, port in zip(PUBLISHED_PORTS, ports, strict=True)
        }
        if offline_images():
            merged.update(read_env_file(OFFLINE_IMAGES))
        merged["SIDEQUEST_IMAGE"] = "sidequest:compose-test"
        merged.update(env)
        services = OFFLINE_SERVICES if offline_images() else (*OFFLINE_SERVICES, "grafana")
        return cls(name, merged, services)

    def command(self, *args: str) -> list[str]:
        return ["docker", "compose", "--project-directory", str(REPO), "-p", self.name, *args]

    def shell_command(self) -> str:
        """`docker compose -p NAME` as one string, for STACK_COMPOSE and `make ... COMPOSE=`."""
        return shlex.join(self.command())

    def environment(self) -> dict[str, str]:
        # The classic builder: BuildKit would try to pull its Dockerfile frontend image.
        return {**os.environ, "DOCKER_BUILDKIT": "0", **self.env}

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.environment(),
        )
        self.log.append(
            f"{shlex.join(args)}: rc {result.returncode} in {time.monotonic() - started:.1f} s"
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {shlex.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def build(self) -> float:
        """Build the app image (one image for web, worker and migrate); returns seconds."""
        started = time.monotonic()
        self.run("build", "migrate", timeout=1200)
        return time.monotonic() - started

    def up(self, *extra: str, replicas: int | None = None) -> float:
        """`up --wait` from whatever state the project is in; returns seconds to healthy."""
        scale = ("--scale", f"worker={replicas}") if replicas is not None else ()
        started = time.monotonic()
        result = self.run(
            "up",
            "-d",
            "--wait",
            "--no-build",
            *scale,
            *extra,
            *self.services,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            logs = self.run("logs", "--no-color", "--tail", "40", timeout=60, check=False)
            raise AssertionError(
                f"docker compose up failed ({result.returncode}):\n{result.stderr[-3000:]}\n"
                f"--- logs ---\n{logs.stdout[-12000:]}"
            )
        return time.monotonic() - started

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", "--timeout", "30", timeout=300, check=False)

    def port(self, variable: str) -> int:
        return int(self.env[variable])

    def url(self, variable: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port(variable)}"

    def containers(self, service: str, *, all_states: bool = False) -> list[str]:
        """Container ids of a service's replicas (running ones unless `all_states`)."""
        flags = ("-a",) if all_states else ()
        output = self.run("ps", "-q", *flags, service, timeout=60).stdout
        return output.split()

    def replicas(self, service: str) -> int:
        return len(self.containers(service))

    def logs(self, service: str) -> str:
        return self.run("logs", "--no-color", "--no-log-prefix", service, timeout=120).stdout
