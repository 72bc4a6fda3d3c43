"""RedisAdapter and the job API's enqueue side against a real redis-server.

What a push writes is Sidekiq's layout exactly: a Ruby worker or Sidekiq's Web UI
reads these keys, so the tests look at the raw keys and the commands sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import sidequest
from sidequest import EnqueueError, Job, keys, payload
from sidequest import adapter as adapter_module
from sidequest.adapter import UniqueSpec, set_adapter, using
from sidequest.client import RedisAdapter
from sidequest.connection import connect
from sidequest.replication import NO_WAIT
from tests.integration.sidequest.wakeups import Subscription
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

HEX24 = re.compile(r"[0-9a-f]{24}")
UNIQUE_FOR = 600


class ClientReportJob(Job):
    def perform(self, report_id: int, label: str = "") -> None:
        pass


class ClientMailJob(Job):
    queue = "mailers"
    retry = 3

    def perform(self, n: int) -> None:
        pass


class ClientUniqueJob(Job):
    unique_for = timedelta(seconds=UNIQUE_FOR)

    def perform(self, report_id: int) -> None:
        pass


def command_calls(client: redis.Redis) -> dict[str, int]:
    """How often each command ran since the last CONFIG RESETSTAT."""
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def stored(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(key, 0, -1)]


def scheduled(client: redis.Redis) -> list[tuple[dict[str, Any], float]]:
    return [
        (json.loads(member), score)
        for member, score in client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    ]


def lock_key(job_class: str, args: list[Any], queue: str = "default") -> str:
    return keys.unique_lock(payload.unique_digest(job_class, queue, args))


@pytest.fixture
def wakeups(redis_client: redis.Redis) -> Iterator[Subscription]:
    subscription = Subscription(redis_client, keys.SCHEDULE_WAKEUP_CHANNEL)
    yield subscription
    subscription.close()


def test_perform_later_lpushes_sidekiqs_payload_and_adds_the_queue(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()
    before = time.time()

    job = ClientReportJob.perform_later(42, "a")

    assert job.successfully_enqueued
    assert HEX24.fullmatch(job.jid)
    assert command_calls(redis_client).get("lpush") == 1
    assert command_calls(redis_client).get("sadd") == 1
    assert redis_client.smembers(keys.QUEUES) == {"default"}
    [raw] = redis_client.lrange(keys.queue("default"), 0, -1)
    stored_job = json.loads(raw)
    assert set(stored_job) == {
        "class",
        "args",
        "retry",
        "queue",
        "jid",
        "created_at",
        "enqueued_at",
    }
    assert stored_job["class"] == "ClientReportJob"
    assert stored_job["args"] == [42, "a"]
    assert stored_job["retry"] is True
    assert stored_job["queue"] == "default"
    assert stored_job["jid"] == job.jid
    # Float epoch seconds, which Sidekiq 6, 7 and 8 all read (8 writes int milliseconds).
    assert isinstance(stored_job["created_at"], float)
    assert isinstance(stored_job["enqueued_at"], float)
    assert before <= stored_job["created_at"] <= stored_job["enqueued_at"] <= time.time()


def test_the_job_class_options_and_set_choose_the_queue_and_retry(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    ClientMailJob.perform_later(1)
    ClientReportJob.set(queue="critical", retry=False).perform_later(2)

    assert redis_client.smembers(keys.QUEUES) == {"mailers", "critical"}
    [mail] = stored(redis_client, keys.queue("mailers"))
    assert (mail["queue"], mail["retry"], mail["args"]) == ("mailers", 3, [1])
    [critical] = stored(redis_client, keys.queue("critical"))
    assert (critical["queue"], critical["retry"], critical["args"]) == ("critical", False, [2])


def test_perform_bulk_makes_one_lpush_and_keeps_fifo_order(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()

    jids = ClientReportJob.perform_bulk([[n] for n in range(50)])

    assert len(jids) == 50 and len(set(jids)) == 50
    assert command_calls(redis_client).get("lpush") == 1
    assert redis_client.smembers(keys.QUEUES) == {"default"}
    # Workers take from the right: the first jid comes out first.
    taken = [json.loads(redis_client.rpop(keys.queue("default")))["jid"] for _ in jids]
    assert taken == jids


def test_perform_bulk_in_batches_still_keeps_fifo_order(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()

    jids = ClientReportJob.perform_bulk([[n] for n in range(7)], batch_size=3)

    assert command_calls(redis_client).get("lpush") == 3
    taken = [json.loads(redis_client.rpop(keys.queue("default")))["jid"] for _ in jids]
    assert taken == jids


def test_push_bulk_sends_one_lpush_per_queue(redis_url: str, redis_client: redis.Redis) -> None:
    adapter = RedisAdapter(connect(redis_url))
    jobs = [
        payload.build("A", [1], queue="one"),
        payload.build("B", [2], queue="two"),
        payload.build("C", [3], queue="one"),
    ]
    redis_client.config_resetstat()

    adapter.push_bulk(jobs)

    assert command_calls(redis_client).get("lpush") == 2
    assert redis_client.smembers(keys.QUEUES) == {"one", "two"}
    assert [job["class"] for job in reversed(stored(redis_client, keys.queue("one")))] == ["A", "C"]
    assert [job["class"] for job in stored(redis_client, keys.queue("two"))] == ["B"]
    every = stored(redis_client, keys.queue("one")) + stored(redis_client, keys.queue("two"))
    assert all(isinstance(job["enqueued_at"], float) for job in every)
    adapter.redis.close()


def test_perform_bulk_of_nothing_writes_nothing(enqueue_to: str, redis_client: redis.Redis) -> None:
    assert ClientReportJob.perform_bulk([]) == []
    assert redis_client.dbsize() == 0


def assert_scheduled_at(
    client: redis.Redis, due: float, *, jid: str | None = None, tolerance: float = 1.0
) -> dict[str, Any]:
    [(job, score)] = scheduled(client)
    assert abs(score - due) <= tolerance, (score, due)
    assert "enqueued_at" not in job
    assert isinstance(job["created_at"], float)
    if jid is not None:
        assert job["jid"] == jid
    assert not client.exists(keys.queue(job["queue"]))
    assert not client.smembers(keys.QUEUES)
    return job


def test_perform_in_zadds_the_due_time_without_enqueued_at_and_wakes_schedulers(
    enqueue_to: str, redis_client: redis.Redis, wakeups: Subscription
) -> None:
    job = ClientReportJob.perform_in(60, 7)

    assert job.scheduled_at is not None
    assert_scheduled_at(redis_client, time.time() + 60, jid=job.jid)
    [(_, score)] = scheduled(redis_client)
    assert score == job.scheduled_at  # exactly the due time, as a float
    assert wakeups.messages() == [repr(job.scheduled_at)]


def test_perform_in_takes_a_timedelta(enqueue_to: str, redis_client: redis.Redis) -> None:
    job = ClientReportJob.perform_in(timedelta(hours=1), 7)
    assert_scheduled_at(redis_client, time.time() + 3600, jid=job.jid)


def test_perform_at_a_datetime_schedules_at_that_moment(
    enqueue_to: str, redis_client: redis.Redis, wakeups: Subscription
) -> None:
    when = datetime.now(UTC) + timedelta(minutes=5)

    job = ClientReportJob.perform_at(when, 7)

    assert_scheduled_at(redis_client, when.timestamp(), jid=job.jid, tolerance=0.001)
    assert wakeups.messages() == [repr(when.timestamp())]


def test_set_wait_until_schedules_at_that_moment(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    when = time.time() + 120

    job = ClientReportJob.set(wait_until=when, queue="later").perform_later(7)

    stored_job = assert_scheduled_at(redis_client, when, jid=job.jid, tolerance=0.001)
    assert stored_job["queue"] == "later"


def test_perform_bulk_with_a_wait_schedules_every_job(
    enqueue_to: str, redis_client: redis.Redis, wakeups: Subscription
) -> None:
    jids = ClientReportJob.set(wait=30).perform_bulk([[1], [2]])

    entries = scheduled(redis_client)
    assert sorted(job["jid"] for job, _ in entries) == sorted(jids)
    assert all("enqueued_at" not in job for job, _ in entries)
    assert all(abs(score - (time.time() + 30)) < 1 for _, score in entries)
    assert not redis_client.exists(keys.queue("default"))
    assert len(wakeups.messages()) == 1


@pytest.mark.parametrize(
    "enqueue",
    [
        lambda: ClientReportJob.perform_at(time.time() - 30, 7),
        lambda: ClientReportJob.perform_at(datetime.now(UTC) - timedelta(hours=1), 7),
        lambda: ClientReportJob.perform_in(-5, 7),
        lambda: ClientReportJob.set(wait_until=time.time() - 1).perform_later(7),
    ],
    ids=["epoch", "datetime", "negative-delay", "set-wait-until"],
)
def test_a_time_in_the_past_enqueues_at_once(
    enqueue_to: str,
    redis_client: redis.Redis,
    wakeups: Subscription,
    enqueue: Callable[[], Job],
) -> None:
    job = enqueue()

    assert job.scheduled_at is None
    assert not redis_client.exists(keys.SCHEDULE)
    [stored_job] = stored(redis_client, keys.queue("default"))
    assert stored_job["jid"] == job.jid
    assert isinstance(stored_job["enqueued_at"], float)
    assert wakeups.messages() == []


def test_a_unique_job_holds_its_lock_with_the_jid_for_unique_for(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    job = ClientUniqueJob.perform_later(5)

    lock = lock_key("ClientUniqueJob", [5])
    assert redis_client.get(lock) == job.jid
    assert (UNIQUE_FOR - 2) * 1000 <= redis_client.pttl(lock) <= UNIQUE_FOR * 1000
    [stored_job] = stored(redis_client, keys.queue("default"))
    assert stored_job["jid"] == job.jid
    assert isinstance(stored_job["enqueued_at"], float)
    assert redis_client.smembers(keys.QUEUES) == {"default"}


def test_a_second_enqueue_of_a_unique_job_is_refused_with_the_holders_jid(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    first = ClientUniqueJob.perform_later(5)
    second = ClientUniqueJob.perform_later(5)
    scheduled_later = ClientUniqueJob.perform_in(60, 5)
    other = ClientUniqueJob.perform_later(6)

    assert first.successfully_enqueued and other.successfully_enqueued
    assert not second.successfully_enqueued
    assert second.duplicate_of == first.jid
    assert not scheduled_later.successfully_enqueued
    assert scheduled_later.duplicate_of == first.jid
    queued = [job["jid"] for job in stored(redis_client, keys.queue("default"))]
    assert sorted(queued) == sorted([first.jid, other.jid])
    assert not redis_client.exists(keys.SCHEDULE)
    assert redis_client.get(lock_key("ClientUniqueJob", [5])) == first.jid


def test_a_scheduled_unique_job_holds_its_lock_for_unique_for_plus_the_delay(
    enqueue_to: str, redis_client: redis.Redis, wakeups: Subscription
) -> None:
    job = ClientUniqueJob.perform_in(300, 5)

    lock = lock_key("ClientUniqueJob", [5])
    assert redis_client.get(lock) == job.jid
    assert (UNIQUE_FOR + 300 - 2) * 1000 <= redis_client.pttl(lock) <= (UNIQUE_FOR + 300) * 1000
    assert_scheduled_at(redis_client, time.time() + 300, jid=job.jid)
    assert wakeups.messages() == [repr(job.scheduled_at)]


def test_a_unique_job_on_another_queue_has_its_own_lock(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    first = ClientUniqueJob.perform_later(5)
    elsewhere = ClientUniqueJob.set(queue="other").perform_later(5)

    assert elsewhere.successfully_enqueued
    assert redis_client.get(lock_key("ClientUniqueJob", [5], "other")) == elsewhere.jid
    assert redis_client.get(lock_key("ClientUniqueJob", [5])) == first.jid


def test_perform_bulk_of_a_unique_job_skips_refused_duplicates(
    enqueue_to: str, redis_client: redis.Redis
) -> None:
    held = ClientUniqueJob.perform_later(3)

    jids = ClientUniqueJob.perform_bulk([[1], [1], [2], [3]])

    assert len(jids) == 2
    queued = [job["jid"] for job in reversed(stored(redis_client, keys.queue("default")))]
    assert queued == [held.jid, *jids]
    assert redis_client.get(lock_key("ClientUniqueJob", [1])) == jids[0]
    assert redis_client.get(lock_key("ClientUniqueJob", [2])) == jids[1]
    assert redis_client.get(lock_key("ClientUniqueJob", [3])) == held.jid


def test_the_adapter_reports_the_holder_of_a_refused_unique_push(redis_url: str) -> None:
    adapter = RedisAdapter(connect(redis_url))
    spec = UniqueSpec(digest="d" * 32, ttl=10)

    first = adapter.push(payload.build("A", [1]), unique=spec)
    job = payload.build("A", [1])
    second = adapter.push(job, unique=spec)

    assert first.enqueued and first.holder is None
    assert not second.enqueued
    assert second.holder is not None and HEX24.fullmatch(second.holder)
    assert second.holder != job["jid"]
    adapter.redis.close()


@pytest.fixture
def stopped_redis(own_redis_server: RedisServer) -> Iterator[RedisServer]:
    """perform_later pointed at a server that the test stops and starts again."""
    sidequest.configure(own_redis_server.url)
    yield own_redis_server
    set_adapter(None)


@pytest.mark.parametrize(
    ("enqueue", "names"),
    [
        (lambda: ClientReportJob.perform_later(1), "ClientReportJob"),
        (lambda: ClientReportJob.perform_in(60, 1), "ClientReportJob"),
        (lambda: ClientReportJob.perform_bulk([[1], [2]]), "2 jobs"),
        (lambda: ClientReportJob.set(wait=60).perform_bulk([[1], [2]]), "2 jobs"),
        (lambda: ClientUniqueJob.perform_later(1), "ClientUniqueJob"),
        (lambda: ClientUniqueJob.perform_in(60, 1), "ClientUniqueJob"),
        (lambda: ClientUniqueJob.perform_bulk([[1]]), "ClientUniqueJob"),
    ],
    ids=["now", "later", "bulk", "bulk-later", "unique", "unique-later", "unique-bulk"],
)
def test_an_enqueue_while_redis_is_down_raises_enqueue_error_and_writes_nothing(
    stopped_redis: RedisServer, enqueue: Callable[[], object], names: str
) -> None:
    kept = ClientReportJob.perform_later(0)
    stopped_redis.stop()

    with pytest.raises(EnqueueError) as raised:
        enqueue()

    message = str(raised.value)
    assert message.startswith(f"could not enqueue {names}")
    assert f"127.0.0.1:{stopped_redis.port}" in message
    assert "refused" in message.lower()

    stopped_redis.start()
    client = stopped_redis.client()
    try:
        # Only the job acknowledged before the outage is there (AOF kept it).
        assert [job["jid"] for job in stored(client, keys.queue("default"))] == [kept.jid]
        assert client.smembers(keys.QUEUES) == {"default"}
        assert not client.exists(keys.SCHEDULE)
        assert not client.keys(keys.PREFIX + "unique:*")
    finally:
        client.close()


def test_enqueue_works_again_once_redis_is_back(stopped_redis: RedisServer) -> None:
    stopped_redis.stop()
    with pytest.raises(EnqueueError):
        ClientReportJob.perform_later(1)
    stopped_redis.start()

    job = ClientReportJob.perform_later(2)

    client = stopped_redis.client()
    try:
        assert [stored_job["jid"] for stored_job in stored(client, keys.queue("default"))] == [
            job.jid
        ]
    finally:
        client.close()


def test_using_installs_an_adapter_only_inside_the_block(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    set_adapter(None)
    adapter = RedisAdapter(connect(redis_url))
    with using(adapter):
        assert sidequest.current_adapter() is adapter
    with pytest.raises(sidequest.ConfigError, match="not configured"):
        sidequest.current_adapter()
    adapter.redis.close()


# -- a client that never called sidequest.configure() ----------------------------------

CLIENT_SCRIPT = """
from tests.integration.sidequest.fixture_jobs import RecordJob
print(RecordJob.perform_later(5).jid)
"""


def run_client(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh Python process enqueueing one job, with REDIS_URL only as `env` says."""
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    root = str(Path(__file__).resolve().parents[3])
    return subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT],
        cwd=root,
        env={**environment, "PYTHONPATH": root, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as one that never called sidequest.configure(), REDIS_URL unset."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    set_adapter(None)
    yield
    installed = adapter_module._current
    if isinstance(installed, RedisAdapter):
        installed.redis.close()
    set_adapter(None)


def test_a_client_process_without_configure_enqueues_to_redis_url(
    redis_url: str, redis_client: redis.Redis
) -> None:
    result = run_client({"REDIS_URL": redis_url})

    assert result.returncode == 0, result.stderr
    jid = result.stdout.strip()
    [job] = stored(redis_client, keys.queue("default"))
    assert (job["jid"], job["class"], job["args"]) == (jid, "RecordJob", [5])


def test_a_client_process_with_neither_configure_nor_redis_url_gets_the_clear_error() -> None:
    result = run_client({})

    assert result.returncode == 1
    assert "ConfigError: sidequest is not configured" in result.stderr
    assert "set REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("localhost:6379", "REDIS_URL must start with redis://"),
        ("redis://:hunter2@127.0.0.1:notaport/0", "REDIS_URL is not a valid URL"),
        ("redis://127.0.0.1:6379/0?socket_timeout=soon", "REDIS_URL is not a usable Redis URL"),
    ],
)
def test_a_malformed_redis_url_is_an_error_naming_the_variable(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, url: str, complaint: str
) -> None:
    monkeypatch.setenv("REDIS_URL", url)

    with pytest.raises(sidequest.ConfigError, match=re.escape(complaint)) as raised:
        ClientReportJob.perform_later(1)

    assert "hunter2" not in str(raised.value)
    assert adapter_module._current is None, "nothing installed: the next enqueue reads again"


def test_the_redis_url_adapter_is_built_once_and_configure_replaces_it(
    unconfigured: None,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    first = ClientReportJob.perform_later(1)
    installed = sidequest.current_adapter()
    assert isinstance(installed, RedisAdapter)

    # Read once, as Sidekiq builds its pool once: a later change of the variable does
    # not move the enqueues, sidequest.configure() does.
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    second = ClientReportJob.perform_later(2)
    assert sidequest.current_adapter() is installed
    other = redis_url.removesuffix("/0") + "/1"
    configured = sidequest.configure(redis_url=other)
    third = ClientReportJob.perform_later(3)

    queue = keys.queue("default")
    assert [job["jid"] for job in stored(redis_client, queue)] == [second.jid, first.jid]
    other_client = redis.Redis.from_url(other)
    assert [job["jid"] for job in stored(other_client, queue)] == [third.jid]
    other_client.close()
    installed.redis.close()
    assert isinstance(configured, RedisAdapter)
    configured.redis.close()


def test_an_empty_redis_url_counts_as_unset(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "  ")
    with pytest.raises(sidequest.ConfigError, match="not configured"):
        ClientReportJob.perform_later(1)


@pytest.mark.parametrize("bulk", [False, True], ids=["push", "push_bulk"])
def test_an_enqueue_whose_reply_is_lost_raises_and_is_not_pushed_a_second_time(
    redis_server: RedisServer, redis_client: redis.Redis, bulk: bool
) -> None:
    """Redis ran the LPUSH, the connection broke before its reply arrived (a network cut,
    a failover). redis-py's one repeat after a connection error would push the job
    again on a new connection, silently: two copies of one jid, which one worker's fetch
    takes together and runs in two threads at once (the Sentinel cut test saw it). The
    enqueue raises instead: it may have happened (docs/guarantees.md)."""
    with TcpProxy(redis_server.port) as proxy:
        adapter = RedisAdapter(connect(proxy.url), NO_WAIT)
        adapter.redis.ping()  # the handshake is done: the next integer reply is the push's

        def lose_the_reply() -> None:
            # Runs before the reply is forwarded: it is dropped with the connection, and
            # a new connection gets through at once, as to a new master after a failover.
            proxy.drop_connections()

        proxy.when_sent(b"LPUSH", lambda: proxy.when_received(b":", lose_the_reply))
        job = payload.build(ClientReportJob.job_name, [7])
        raised: EnqueueError | None = None
        try:
            if bulk:
                adapter.push_bulk([job])
            else:
                adapter.push(job)
        except EnqueueError as error:
            raised = error
        adapter.redis.close()

    queued = [entry["jid"] for entry in stored(redis_client, keys.queue("default"))]
    assert queued == [job["jid"]], f"queued {len(queued)} times"
    assert raised is not None and "could not enqueue" in str(raised)


def test_a_scheduled_enqueue_whose_reply_is_lost_is_repeated_harmlessly(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A ZADD of the same payload and score is idempotent: the client's repeat stays."""
    with TcpProxy(redis_server.port) as proxy:
        adapter = RedisAdapter(connect(proxy.url), NO_WAIT)
        adapter.redis.ping()

        def lose_the_reply() -> None:
            proxy.drop_connections()

        proxy.when_sent(b"ZADD", lambda: proxy.when_received(b":", lose_the_reply))
        job = payload.build(ClientReportJob.job_name, [8])
        adapter.push(job, at=time.time() + 60)
        adapter.redis.close()

    assert [entry["jid"] for entry, _ in scheduled(redis_client)] == [job["jid"]]
