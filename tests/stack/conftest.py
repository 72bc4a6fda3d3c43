"""The stack under test: the `make dev` stack started here, or a running one named by URLs.

By default the session starts the same launcher `make dev` runs (`python -m infra.dev`)
in a temporary directory, on free ports, with a 1 s Prometheus scrape interval, one
worker process, three spares and one processor thread per process, and stops it at the
end (checking that no process is left).

To run the same tests against a Compose stack (`make up`), name its URLs:

    STACK_WEB_URL=http://127.0.0.1:8000          the web tier
    STACK_REDIS_URL=redis://127.0.0.1:6379/0      its Redis
    STACK_PROMETHEUS_URL=http://127.0.0.1:9090    its Prometheus
    STACK_MAIL_URL=http://127.0.0.1:8025          Mailpit (its API)
    STACK_COMPOSE="docker compose"                optional: lets the tests kill worker
                                                  processes, scale worker replicas and
                                                  stop Mailpit for a while
    STACK_WORKER_REPLICAS=2, STACK_WORKER_PROCESSES=2   the stack's shape (defaults)

Tests that need those operator actions are skipped without STACK_COMPOSE. The tests
never flush anything: they tell their own jobs and mails apart by unique addresses and
measure counters as differences, so they can run against a stack that is in use.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from infra.dev import preflight
from tests.stack.clients import MailSink, Prometheus, Shop
from tests.stack.control import ComposeControl, DevControl, StackControl
from tests.stack.dev_stack import DevStack

URL_VARIABLES = ("STACK_WEB_URL", "STACK_REDIS_URL", "STACK_PROMETHEUS_URL", "STACK_MAIL_URL")
# One worker process with one processor thread, and three spares: adding processes then
# adds threads that the report jobs (CPU-bound, ~0.1 s each) can use on any machine with
# two cores or more, even a busy one, so the throughput test measures something robust.
DEV_WORKERS = 1
DEV_SPARES = 3


@dataclass
class Stack:
    """A running stack as the tests see it."""

    shop: Shop
    redis: redis.Redis
    prometheus: Prometheus
    mail: MailSink
    control: StackControl | None
    base_processes: int
    dev: DevStack | None

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
    replicas = int(os.environ.get("STACK_WORKER_REPLICAS", "2"))
    per_replica = int(os.environ.get("STACK_WORKER_PROCESSES", "2"))
    compose = os.environ.get("STACK_COMPOSE", "").strip()
    return Stack(
        shop=Shop(given["STACK_WEB_URL"]),
        redis=redis.Redis.from_url(given["STACK_REDIS_URL"], decode_responses=True),
        prometheus=Prometheus(given["STACK_PROMETHEUS_URL"]),
        mail=MailSink(given["STACK_MAIL_URL"]),
        control=ComposeControl(compose, replicas, per_replica) if compose else None,
        base_processes=replicas * per_replica,
        dev=None,
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    external = _external_stack()
    if external is not None:
        yield external
        external.redis.close()
        return
    if preflight.which("prometheus") is None:
        pytest.fail(
            "the stack tests query a real Prometheus: install the Debian package prometheus "
            "(`make test` does)"
        )
    dev_dir: Path = tmp_path_factory.mktemp("stack")
    dev = DevStack(
        dev_dir,
        workers=DEV_WORKERS,
        spares=DEV_SPARES,
        extra_env={"SIDEQUEST_CONCURRENCY": "1"},
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
