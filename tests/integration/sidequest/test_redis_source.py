"""Which Redis a worker uses, and what it says about it, against real redis-servers.

The application module (`configured_app`) calls sidequest.configure(redis_url=APP_REDIS_URL);
the worker's own settings come from --redis-url, REDIS_URL or its config file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from sidequest import keys, payload
from tests.integration.sidequest.conftest import FAST_HEARTBEAT
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

APP_MODULE = "tests.integration.sidequest.configured_app"
EX_CONFIG = 78

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_app_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """Start `sidequest worker -r configured_app` with no REDIS_URL unless given one."""
    started: list[WorkerProcess] = []

    def start(
        app_url: str, record_url: str, *args: str, redis_url: str | None = None
    ) -> WorkerProcess:
        env = {**FAST_HEARTBEAT, "APP_REDIS_URL": app_url, "TEST_REDIS_URL": record_url}
        if redis_url is not None:
            env["REDIS_URL"] = redis_url
        worker = WorkerProcess(
            record_url,
            tmp_path / f"worker-{len(started)}.log",
            args=args,
            requires=[APP_MODULE],
            env=env,
            unset=() if redis_url is not None else ("REDIS_URL",),
        )
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


def other_db(url: str) -> str:
    """The same server's database 1: another Redis as far as the jobs are concerned."""
    return url.removesuffix("/0") + "/1"


def log_with(worker: WorkerProcess, text: str) -> str:
    """The worker's log once it holds `text` (INFO lines are written in batches)."""
    wait_for(lambda: text in worker.log(), message=repr(text))
    return worker.log()


def push_record_job(client: redis.Redis) -> str:
    """Enqueue a RecordJob as any Sidekiq client would, by writing its payload."""
    job = payload.build("RecordJob", [1])
    client.sadd(keys.QUEUES, "default")
    client.lpush(keys.queue("default"), payload.encode(job))
    return str(job["jid"])


def test_a_worker_without_redis_settings_uses_the_url_its_modules_configured(
    redis_url: str, redis_client: redis.Redis, start_app_worker: StartWorker
) -> None:
    # The application enqueues to database 1 through sidequest.configure(); the worker
    # has no flag, no REDIS_URL and no config file. It used to read 127.0.0.1:6379.
    app_url = other_db(redis_url)
    app = redis.Redis.from_url(app_url, decode_responses=True)
    jid = push_record_job(app)

    worker = start_app_worker(app_url, redis_url)

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [jid], message="the job ran")
    assert app.llen(keys.queue("default")) == 0
    log = log_with(worker, f"Redis {app_url} (from sidequest.configure() in module {APP_MODULE})")
    assert "WARNING" not in log
    app.close()


@pytest.mark.parametrize("given_by", ["flag", "environment", "config file"])
def test_the_workers_own_setting_wins_over_configure_and_it_says_so_at_start(
    redis_url: str,
    redis_client: redis.Redis,
    start_app_worker: StartWorker,
    tmp_path: Path,
    given_by: str,
) -> None:
    app_url = other_db(redis_url)
    app = redis.Redis.from_url(app_url, decode_responses=True)
    app_jid = push_record_job(app)
    jid = push_record_job(redis_client)

    if given_by == "flag":
        worker = start_app_worker(app_url, redis_url, "--redis-url", redis_url)
        source = "the --redis-url flag"
    elif given_by == "environment":
        worker = start_app_worker(app_url, redis_url, redis_url=redis_url)
        source = "the environment variable REDIS_URL"
    else:
        config = tmp_path / "sidequest.yml"
        config.write_text(f":redis_url: {redis_url}\n")
        worker = start_app_worker(app_url, redis_url, "-C", str(config))
        source = f"the config file {config}"

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [jid], message="the job ran")
    log = log_with(worker, f"Redis {redis_url} (from {source})")
    warning = next(line for line in log.splitlines() if "WARNING" in line)
    assert f"using Redis {redis_url} from {source}, not {app_url} from " in warning
    assert f"sidequest.configure() in module {APP_MODULE}" in warning
    assert "the worker's own settings" in warning
    # The application's job stays where the application put it.
    assert app.llen(keys.queue("default")) == 1
    assert app_jid not in redis_client.lrange("test:runs", 0, -1)
    app.close()


def test_the_same_url_from_both_places_gives_no_warning(
    redis_url: str, redis_client: redis.Redis, start_app_worker: StartWorker
) -> None:
    jid = push_record_job(redis_client)

    worker = start_app_worker(redis_url, redis_url, redis_url=redis_url)

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [jid], message="the job ran")
    log = log_with(worker, f"Redis {redis_url} (from the environment variable REDIS_URL)")
    assert "WARNING" not in log


def test_the_redis_line_masks_the_password(tmp_path: Path, start_app_worker: StartWorker) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        admin = server.client()
        admin.config_set("requirepass", "s3cret-pw")
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(url, decode_responses=True)
        jid = push_record_job(client)

        worker = start_app_worker(url, url)

        wait_for(lambda: client.lrange("test:runs", 0, -1) == [jid], message="the job ran")
        masked = f"redis://:***@127.0.0.1:{server.port}/0"
        log = log_with(
            worker, f"Redis {masked} (from sidequest.configure() in module {APP_MODULE})"
        )
        assert "s3cret-pw" not in log
        worker.stop()
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("app_url", "complaint"),
    [
        ("redis://127.0.0.1:notaport/0", "is not a valid URL"),
        ("http://127.0.0.1:6379/0", "must start with redis://"),
        ("redis://127.0.0.1:6379/0?db=x", "is not a usable Redis URL"),
    ],
)
def test_a_malformed_url_given_to_configure_stops_the_worker_naming_the_module(
    redis_url: str, start_app_worker: StartWorker, app_url: str, complaint: str
) -> None:
    worker = start_app_worker(app_url, redis_url)

    assert worker.wait(30) == EX_CONFIG
    errors = [line for line in worker.log().splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, worker.log()
    assert f"sidequest.configure(redis_url=...) in module {APP_MODULE} {complaint}" in errors[0]
    assert "Traceback" not in worker.log()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--redis-url", "redis://:pw@127.0.0.1:99999/0"), "--redis-url is not a valid URL"),
        ((), "REDIS_URL must start with redis://"),
    ],
)
def test_a_malformed_worker_setting_is_named_and_never_shows_the_password(
    redis_url: str,
    start_app_worker: StartWorker,
    args: tuple[str, ...],
    named: str,
) -> None:
    worker = start_app_worker(redis_url, redis_url, *args, redis_url="localhost:6379")

    assert worker.wait(30) == EX_CONFIG
    assert f"error: {named}" in worker.log()
    assert ":pw@" not in worker.log()
