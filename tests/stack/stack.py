"""The stack under test: the `make dev` stack, the Compose stack, or a running one by URLs.

Which one, for the whole session:

- by default, the launcher `make dev` runs (`python -m infra.dev`), started in a temporary
  directory on free ports, with a 1 s Prometheus scrape interval, one worker process,
  three spares and one processor thread per process, and stopped at the end (checking
  that no process is left);
- with SIDEQUEST_STACK=compose (`make test-compose`, which collecting tests/compose also
  sets), docker-compose.yml brought up as the Compose project `sidequest-test` on this
  machine's Docker (tests/compose/project.py): stand-in images when offline, free
  loopback ports, one worker container of one process with one thread (adding workers
  adds three containers), a prometheus.yml with 1 s intervals, JSON logs; torn down with
  its volumes at the end;
- with the URLs of a running stack (`make up`):

    STACK_WEB_URL=http://127.0.0.1:8000          the web tier
    STACK_REDIS_URL=redis://127.0.0.1:6380/0      its Redis
    STACK_PROMETHEUS_URL=http://127.0.0.1:9090    its Prometheus
    STACK_MAIL_URL=http://127.0.0.1:8025          Mailpit (its API)
    STACK_COMPOSE="docker compose"                optional: lets the tests kill worker
                                                  processes, scale worker replicas (back
                                                  to the count found at the start) and
                                                  stop Mailpit for a while
    STACK_WORKER_PROCESSES=2                      worker processes per container

  Tests that need those operator actions are skipped without STACK_COMPOSE.

The tests never flush anything: they tell their own jobs and mails apart by unique
addresses and measure counters as differences, so they can run against a stack in use.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from infra.dev import preflight
from tests.compose import project as compose
from tests.stack.clients import MailSink, Prometheus, Shop
from tests.stack.control import ComposeControl, DevControl, StackControl
from tests.stack.dev_stack import DevStack

URL_VARIABLES = ("STACK_WEB_URL", "STACK_REDIS_URL", "STACK_PROMETHEUS_URL", "STACK_MAIL_URL")
# One worker process with one processor thread, and three spares: adding processes then
# adds threads that the report jobs (CPU-bound, ~0.1 s each) can use on any machine with
# two cores or more, even a busy one, so the throughput test measures something robust.
DEV_WORKERS = 1
DEV_SPARES = 3
# The Compose stack's counterpart: containers added by the tests that add workers.
COMPOSE_ADDED_REPLICAS = 3
COMPOSE_PROJECT = "sidequest-test"
COMPOSE_SEED_ORDERS = 5_000
#: seconds each step of bringing the Compose stack up took, for the session's summary
COMPOSE_TIMINGS: dict[str, float] = {}


@dataclass
class Stack:
    """A running stack as the tests see it."""

    shop: Shop
    redis: redis.Redis
    prometheus: Prometheus
    mail: MailSink
    control: StackControl | None
    base_processes: int
    dev: DevStack | None = None
    compose: compose.ComposeProject | None = None

    def operator(self) -> StackControl:
        if self.control is None:
            pytest.skip("set STACK_COMPOSE to let the stack tests operate the stack")
        return self.control


def unique_address(purpose: str) -> str:
    """A recipient no other test (or earlier run) uses, so its mails can be told apart."""
    return f"{purpose}-{uuid.uuid4().hex[:12]}@stack.test"


def _external_stack() -> Stack | None:
    given = {name: os.environ.get(name, "").strip() for name in URL_VARIABLES}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise pytest.UsageError(f"set every one of {URL_VARIABLES}; missing {missing}")
    per_replica = int(os.environ.get("STACK_WORKER_PROCESSES", "2"))
    command = os.environ.get("STACK_COMPOSE", "").strip()
    control = ComposeControl(command, {}, per_replica, added_replicas=1) if command else None
    replicas = control.replicas if control else int(os.environ.get("STACK_WORKER_REPLICAS", "2"))
    return Stack(
        shop=Shop(given["STACK_WEB_URL"]),
        redis=redis.Redis.from_url(given["STACK_REDIS_URL"], decode_responses=True),
        prometheus=Prometheus(given["STACK_PROMETHEUS_URL"]),
        mail=MailSink(given["STACK_MAIL_URL"]),
        control=control,
        base_processes=replicas * per_replica,
    )


@contextmanager
def dev_stack(directory: Path) -> Iterator[Stack]:
    if preflight.which("prometheus") is None:
        pytest.fail(
            "the stack tests query a real Prometheus: install the Debian package prometheus "
            "(`make test` does)"
        )
    dev = DevStack(
        directory, workers=DEV_WORKERS, spares=DEV_SPARES, extra_env={"SIDEQUEST_CONCURRENCY": "1"}
    ).start()
    client = redis.Redis.from_url(dev.redis_url, decode_responses=True)
    try:
        yield Stack(
            shop=Shop(dev.web_url),
            redis=client,
            prometheus=Prometheus(dev.prometheus_url),
            mail=MailSink(dev.mail_url),
            control=DevControl(dev, DEV_SPARES),
            base_processes=DEV_WORKERS,
            dev=dev,
        )
    finally:
        client.close()
        dev.stop()


def compose_project(directory: Path, name: str = COMPOSE_PROJECT) -> compose.ComposeProject:
    """The Compose project of the stack tests, in the test shape (see the module doc)."""
    return compose.ComposeProject.for_tests(
        name,
        PROMETHEUS_CONFIG=str(compose.fast_prometheus_config(directory)),
        LOG_FORMAT="json",
        # A delivery killed mid-send is retried after its claim expires: not 5 minutes.
        MAIL_CLAIM_LEASE_SECONDS="10",
        **compose.TEST_SHAPE,
    )


_images_ready: list[bool] = []


def prepare_images(project: compose.ComposeProject) -> None:
    """The stand-in images and the app image, built (or found cached) once per session."""
    if _images_ready:
        return
    if compose.offline_images():
        started = time.monotonic()
        compose.build_offline_images()
        COMPOSE_TIMINGS["stand-in images"] = time.monotonic() - started
    COMPOSE_TIMINGS["app image build"] = project.build()
    _images_ready.append(True)


@contextmanager
def compose_stack(directory: Path) -> Iterator[Stack]:
    project = compose_project(directory)
    project.down()  # what a killed earlier run left
    try:
        prepare_images(project)
        COMPOSE_TIMINGS["up --wait to healthy"] = project.up(replicas=compose.TEST_REPLICAS)
        # The reports need orders, which `make dev` seeds and a production stack has.
        project.run("exec", "-T", "web", "python", "-m", "shop.db", "seed", "--orders",
                    str(COMPOSE_SEED_ORDERS), timeout=300)  # fmt: skip
        client = redis.Redis.from_url(
            project.url("REDIS_PORT", "redis") + "/0", decode_responses=True
        )
        per_replica = int(compose.TEST_SHAPE["WORKER_PROCESSES"])
        control = ComposeControl(
            project.shell_command(),
            project.env,
            per_replica,
            added_replicas=COMPOSE_ADDED_REPLICAS,
        )
        try:
            yield Stack(
                shop=Shop(project.url("WEB_PORT")),
                redis=client,
                prometheus=Prometheus(project.url("PROMETHEUS_PORT")),
                mail=MailSink(project.url("MAILPIT_PORT")),
                control=control,
                base_processes=control.replicas * per_replica,
                compose=project,
            )
        finally:
            client.close()
    finally:
        project.down()


def stack_mode() -> str:
    if any(os.environ.get(name) for name in URL_VARIABLES):
        return "urls"
    return os.environ.get("SIDEQUEST_STACK", "dev")


@contextmanager
def the_stack(directory: Path) -> Iterator[Stack]:
    mode = stack_mode()
    if mode == "urls":
        external = _external_stack()
        assert external is not None
        try:
            yield external
        finally:
            external.redis.close()
    elif mode == "compose":
        with compose_stack(directory) as stack:
            yield stack
    elif mode == "dev":
        with dev_stack(directory) as stack:
            yield stack
    else:
        raise pytest.UsageError(f"SIDEQUEST_STACK must be dev or compose, not {mode!r}")
