"""Redis with a password, an ACL user and TLS: workers connect with REDIS_URL's
credentials, and one that Redis refuses stops at once with exit status 78 (EX_CONFIG)
and one clear line, which supervisord does not restart in a loop."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from sidequest.cli import EX_CONFIG
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.smtp_server import self_signed_certificate

PASSWORD = "s3cret-default"
WORKER_PASSWORD = "w0rker-pass"
# The `worker` user has least privilege for a worker: every key (process entries are
# named after hosts), the wakeup channel, every command but the dangerous ones
# (FLUSHALL, CONFIG, KEYS...).


@pytest.fixture
def guarded_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, redis.Redis]]:
    """A redis-server with a default password and a `worker` ACL user; and an admin client."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    admin = redis.Redis(port=server.port, decode_responses=True)
    admin.acl_setuser(
        "worker",
        enabled=True,
        passwords=[f"+{WORKER_PASSWORD}"],
        keys=["*"],
        channels=["sidequest:*"],
        commands=["+@all", "-@dangerous"],
    )
    # Redis 7 gives new users no channel at all: this one may not PUBLISH the wakeup.
    admin.acl_setuser(
        "mute", enabled=True, passwords=[f"+{WORKER_PASSWORD}"], keys=["*"], commands=["+@all"]
    )
    # The admin connection stays authenticated; every new one must AUTH from now on.
    admin.config_set("requirepass", PASSWORD)
    yield server, admin
    admin.close()
    server.stop()


def _run_jobs_through(url: str, admin: redis.Redis, start_worker: StartWorker) -> None:
    start_worker(url, "-c", "2")
    sidequest.configure(url)
    try:
        now = jobs.RecordJob.perform_later(1)
        later = jobs.RecordJob.perform_in(0.3, 2)
    finally:
        set_adapter(None)
    wait_for(
        lambda: sorted(admin.lrange("test:runs", 0, -1)) == sorted([now.jid, later.jid]),
        timeout=15,
        message="a job now and a scheduled one to run",
    )
    admin.delete("test:runs")


def test_workers_and_clients_connect_with_a_password_and_as_an_acl_user(
    guarded_redis: tuple[RedisServer, redis.Redis], start_worker: StartWorker
) -> None:
    server, admin = guarded_redis
    _run_jobs_through(f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0", admin, start_worker)
    _run_jobs_through(
        f"redis://worker:{WORKER_PASSWORD}@127.0.0.1:{server.port}/0", admin, start_worker
    )


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        (":wrong", "refused our credentials"),
        ("", "refused our credentials"),
        (f"nobody:{WORKER_PASSWORD}", "refused our credentials"),
        (f"mute:{WORKER_PASSWORD}", "sidequest:schedule-wakeup"),
    ],
    ids=["wrong password", "no password", "unknown user", "user without the channel"],
)
def test_a_worker_redis_refuses_exits_78_at_once_with_one_clear_line(
    guarded_redis: tuple[RedisServer, redis.Redis],
    start_worker: StartWorker,
    credentials: str,
    message: str,
) -> None:
    server, admin = guarded_redis
    at = f"{credentials}@" if credentials else ""
    started = time.monotonic()
    worker = start_worker(f"redis://{at}127.0.0.1:{server.port}/0", "-c", "2")
    assert worker.wait(20) == EX_CONFIG
    # It did not wait out the 30 s a worker gives an unreachable Redis.
    assert time.monotonic() - started < 15
    lines = [line for line in worker.log().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], worker.log()
    assert "Traceback" not in worker.log()
    assert WORKER_PASSWORD not in worker.log() and "wrong" not in lines[0]
    assert not admin.smembers("processes")


def test_a_client_without_the_wakeup_channel_can_still_schedule_jobs(
    guarded_redis: tuple[RedisServer, redis.Redis], start_worker: StartWorker
) -> None:
    # A web tier whose user may not PUBLISH the wakeup: the job is scheduled all the
    # same, and saying otherwise would make callers retry and schedule it twice.
    server, admin = guarded_redis
    start_worker(f"redis://worker:{WORKER_PASSWORD}@127.0.0.1:{server.port}/0", "-c", "2")
    sidequest.configure(f"redis://mute:{WORKER_PASSWORD}@127.0.0.1:{server.port}/0")
    try:
        later = jobs.RecordJob.perform_in(0.3, 1)
        bulk = jobs.RecordJob.set(wait=0.3).perform_bulk([[2], [3]])
        unique = jobs.UniqueRecordJob.perform_in(0.3, 4)
    finally:
        set_adapter(None)
    assert later.successfully_enqueued and unique.successfully_enqueued
    wait_for(
        lambda: sorted(admin.lrange("test:runs", 0, -1)) == sorted([later.jid, *bulk, unique.jid]),
        timeout=15,
        message="the scheduled jobs to run",
    )


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path, redis.Redis]]:
    """A redis-server that clients reach over TLS only (its plain port is the test's)."""
    certificate, key = self_signed_certificate(tmp_path / "tls")
    tls_port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        extra=[
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(certificate),
            "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(certificate),
            "--tls-auth-clients", "no",
        ],
    )  # fmt: skip
    server.start()
    admin = redis.Redis(port=server.port, decode_responses=True)
    admin.config_set("requirepass", PASSWORD)
    yield tls_port, certificate, admin
    admin.close()
    server.stop()


def test_workers_connect_over_tls(
    tls_redis: tuple[int, Path, redis.Redis], start_worker: StartWorker
) -> None:
    port, certificate, admin = tls_redis
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={certificate}"
    _run_jobs_through(url, admin, start_worker)


def test_a_worker_that_does_not_trust_the_certificate_exits_78_at_once(
    tls_redis: tuple[int, Path, redis.Redis], start_worker: StartWorker
) -> None:
    # (Plain text against the TLS port looks like any reset connection: the worker
    # waits its 30 s for Redis, then exits 78 too.)
    port, _, _ = tls_redis
    started = time.monotonic()
    worker = start_worker(f"rediss://:{PASSWORD}@127.0.0.1:{port}/0", "-c", "2")
    assert worker.wait(20) == EX_CONFIG
    assert time.monotonic() - started < 15
    assert "error: TLS with Redis" in worker.log() and "Traceback" not in worker.log()
    assert PASSWORD not in worker.log()


def _refused_subscribes(admin: redis.Redis, channel: str = keys.SCHEDULE_WAKEUP_CHANNEL) -> int:
    """SUBSCRIBEs to `channel` that Redis refused (ACL), counted by Redis itself: its ACL
    log folds repeated refusals of one channel into one entry with a count. Each of the
    worker's subscribers (the scheduler, the control listener) has its own channel."""
    entries: list[dict[str, object]] = admin.acl_log()  # type: ignore[assignment]
    return sum(
        int(str(entry.get("count", 0)))
        for entry in entries
        if entry.get("reason") == "channel" and entry.get("object") == channel
    )


def test_a_scheduler_refused_its_channel_backs_off_instead_of_spinning(
    guarded_redis: tuple[RedisServer, redis.Redis], start_worker: StartWorker
) -> None:
    server, admin = guarded_redis
    worker = start_worker(f"redis://worker:{WORKER_PASSWORD}@127.0.0.1:{server.port}/0", "-c", "2")
    wait_for(lambda: admin.smembers("processes"), message="heartbeat")
    assert _refused_subscribes(admin) == 0
    # Taking the channel away at run time: Redis 7 disconnects the scheduler's
    # subscription, and every SUBSCRIBE from then on is refused.
    admin.acl_setuser("worker", enabled=True, reset_channels=True)
    wait_for(lambda: _refused_subscribes(admin), message="the first refused SUBSCRIBE")
    # Watch the attempts arrive at Redis for 5 s, sampling its count every 20 ms.
    first = time.monotonic()
    moments = [first]

    def watched() -> bool:
        count = _refused_subscribes(admin)
        moments.extend([time.monotonic()] * (count - len(moments)))
        return time.monotonic() > first + 5.0

    wait_for(watched, timeout=7.0, interval=0.02, message="5 s of watching")
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    # The control listener (pauses and cancels) is refused its channel as well and backs
    # off the same way.
    assert 3 <= _refused_subscribes(admin, keys.CONTROL_CHANNEL) <= 12
    # Its backoff doubles from 0.05-0.15 s up to 1-3 s: at most 10 attempts fit in 5 s
    # (the shortest waits add up to 0.05+0.1+0.2+0.4+0.8+1+1+1+1 s); a loop that reset its
    # backoff on every SUBSCRIBE sent made 30 or more, one without backoff thousands.
    assert len(moments) <= 10, f"{len(moments)} SUBSCRIBE attempts in 5 s: {gaps[:20]}"
    # It keeps trying, and the waits grow.
    assert len(moments) >= 3, f"only {len(moments)} SUBSCRIBE attempts in 5 s"
    assert max(gaps) >= 0.4, f"the waits between attempts never grew: {gaps}"
    # The refusal is logged once, not at every attempt.
    assert worker.log().count("scheduler: Redis error") == 1
    assert worker.running()
