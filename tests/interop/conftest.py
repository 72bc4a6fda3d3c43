"""Fixtures for the interop tests: Debian's real Sidekiq (6.4.1) and our worker on one Redis.

Every module gets a Redis server of its own, so the Ruby processes and our workers it
starts once (module scope) keep their heartbeats for the whole module; no test flushes
the data another one is looking at. Every process started here is stopped at teardown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import sidequest
from sidequest.adapter import set_adapter
from tests.interop.ruby_console import RubyConsole, require_ruby_sidekiq
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

# Beats every 0.2 s, so signals from Sidekiq's UI are seen at once (Sidekiq's own: 5 s).
FAST_HEARTBEAT = {"SIDEQUEST_HEARTBEAT_INTERVAL": "0.2", "SIDEQUEST_HEARTBEAT_TIMEOUT": "1.5"}
JOB_MODULE = "tests.interop.interop_jobs"

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture(scope="module")
def interop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interop")


@pytest.fixture(scope="module")
def interop_redis(interop_dir: Path) -> Iterator[RedisServer]:
    require_ruby_sidekiq()
    server = RedisServer(interop_dir / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_url(interop_redis: RedisServer) -> str:
    """The module's Redis (this overrides the flushing, per-test fixture of the same name)."""
    return interop_redis.url


@pytest.fixture(scope="module")
def store(interop_redis: RedisServer) -> Iterator[redis.Redis]:
    """A client on the module's Redis for the test's own reads and writes."""
    client = interop_redis.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def api_client(interop_redis: RedisServer) -> Iterator[redis.Redis]:
    """A client as `sidequest.api` expects it (bytes replies)."""
    client = redis.Redis.from_url(interop_redis.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ruby(redis_url: str, interop_dir: Path) -> Iterator[RubyConsole]:
    console = RubyConsole.start(redis_url, interop_dir / "ruby-console.log")
    yield console
    console.stop()


@pytest.fixture(scope="module")
def rails(redis_url: str, interop_dir: Path) -> Iterator[RubyConsole]:
    """A Ruby console with Rails' ActiveJob on the Sidekiq adapter, and a stub job class."""
    try:
        console = RubyConsole.start(
            redis_url, interop_dir / "rails-console.log", requires=("active_job",)
        )
    except RuntimeError as error:
        raise RuntimeError(
            f"{error}\nRails' ActiveJob comes from Debian: `apt-get install ruby-activejob`"
        ) from None
    try:
        console.run(
            "ActiveJob::Base.queue_adapter = :sidekiq\n"
            "ActiveJob::Base.logger = Logger.new(nil)\n"
            "class ProcessReportJob < ActiveJob::Base; queue_as :reports; end"
        )
        yield console
    finally:
        console.stop()


@pytest.fixture(scope="module")
def enqueue_to(redis_url: str) -> Iterator[str]:
    """Point our perform_later at the module's Redis."""
    sidequest.configure(redis_url)
    yield redis_url
    set_adapter(None)


@pytest.fixture(scope="module")
def start_worker(redis_url: str, interop_dir: Path) -> Iterator[StartWorker]:
    """Start `sidequest worker` processes running interop_jobs; all stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        log = interop_dir / f"worker-{len(started)}.log"
        worker = WorkerProcess(
            redis_url, log, args=args, requires=(JOB_MODULE,), env={**FAST_HEARTBEAT, **(env or {})}
        )
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


def identity_of(client: redis.Redis, pid: int) -> str | None:
    """The heartbeat identity of the process with `pid`, once it has beaten."""
    for identity in client.smembers("processes"):
        name = identity.decode() if isinstance(identity, bytes) else str(identity)
        info = client.hget(name, "info")
        if info and json.loads(info).get("pid") == pid:
            return name
    return None


def ruby_value(value: Any) -> str:
    """A Ruby expression for a JSON-native Python value (parsed by Ruby's JSON)."""
    literal = json.dumps(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"JSON.parse('{literal}')"
