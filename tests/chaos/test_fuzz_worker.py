"""Whatever is pushed raw into a queue, a sorted set or a dead process's in-flight hash,
a real worker survives it, and each bad queue entry ends in `dead` with a reason. A job
of a class the worker does not know is no bad entry: it is retried, or dropped when its
payload says so (`retry: false`, or `dead: false` once out of retries), as in Sidekiq.

After every batch, canary jobs go through each path (a queue, `schedule`, `retry`): if
the fetcher, a processor, the scheduler or the recovery had died on an entry, the
canaries would not run. The process must still be running and beating.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidequest import Job, keys, payload
from sidequest.errors import MalformedPayloadError
from sidequest.runtime import resolution
from tests.chaos import fault_jobs, inspection
from tests.chaos.fuzz_entries import encode, entries
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

PLACES = ("queue", "schedule", "retry", "orphaned")
# The names the worker resolves: those of the module it loads (-r tests.chaos.fault_jobs).
KNOWN_NAMES = {
    name
    for value in vars(fault_jobs).values()
    if isinstance(value, type)
    and issubclass(value, Job)
    and value.__module__ == fault_jobs.__name__
    for name in (value.job_name, f"{value.__module__}.{value.__qualname__}")
}


class FuzzWorker:
    """One worker shared by the examples; a fresh one after an example broke it, so
    that Hypothesis shrinks towards what breaks a healthy worker."""

    def __init__(self, server: RedisServer, directory: Path):
        self.server = server
        self.directory = directory
        self.client = redis.Redis.from_url(server.url)
        self.batches = 0
        self.worker: WorkerProcess | None = None
        self.identity = ""
        self.start()

    def start(self) -> None:
        self.client.flushdb()
        self.worker = WorkerProcess(
            self.server.url,
            self.directory / f"worker-{self.batches}.log",
            args=["-c", "4", "-q", "fuzz", "-q", "default"],
            requires=["tests.chaos.fault_jobs"],
            env={
                "SIDEQUEST_HEARTBEAT_INTERVAL": "0.2",
                "SIDEQUEST_HEARTBEAT_TIMEOUT": "1.5",
                "SIDEQUEST_SCHEDULER_MAX_SLEEP": "0.1",
            },
        ).start()
        members = wait_for(lambda: self.client.smembers(keys.PROCESSES), timeout=20)
        self.identity = members.pop().decode()

    def restart(self) -> None:
        assert self.worker is not None
        self.worker.stop()
        self.start()

    def log(self) -> str:
        return self.worker.log()[-3000:] if self.worker else ""

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.client.close()


@pytest.fixture(scope="module")
def fuzz_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorker]:
    directory = tmp_path_factory.mktemp("fuzz-worker")
    server = RedisServer(directory / "redis")
    server.start()
    fuzz = FuzzWorker(server, directory)
    try:
        yield fuzz
    finally:
        fuzz.close()
        server.stop()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _push(fuzz: FuzzWorker, place: str, raw: bytes, index: int) -> None:
    client = fuzz.client
    if place == "queue":
        client.sadd(keys.QUEUES, "fuzz")
        client.lpush(keys.queue("fuzz"), raw)
    elif place == "orphaned":
        # In flight in a process that died: recovery must hand it back.
        ghost = f"ghost:{fuzz.batches}:{index}"
        client.hset(keys.inflight(ghost), f"{index + 1}:fuzz", raw)
        client.sadd(keys.OWNERS, ghost)
    else:
        client.zadd(place, {raw: time.time() - 1})


def _canaries(fuzz: FuzzWorker) -> list[str]:
    """One RecordJob through the queue, one through `schedule`, one through `retry`."""
    jids = []
    for place in ("queue", "schedule", "retry"):
        job = payload.build("RecordJob", [0], queue="fuzz")
        job["enqueued_at"] = time.time()
        _push(fuzz, place, payload.encode(job).encode(), 0)
        jids.append(job["jid"])
    return jids


def _settled(fuzz: FuzzWorker, canaries: list[str]) -> bool:
    client = fuzz.client
    ran = {jid.decode() for jid in client.lrange("test:runs", 0, -1)}
    # Retries the worker scheduled are due later; whatever is due must have moved.
    left = inspection.pending(client, due_before=time.time() - 0.5)
    # Jobs promoted to queues this worker does not serve stay there: they are not lost.
    served = left.queued.get("fuzz", 0) + left.queued.get("default", 0)
    return (
        set(canaries) <= ran
        and not (left.scheduled or left.retries_due or left.in_flight or served)
        and left.owners <= {fuzz.identity}
    )


def _dead_entries(client: redis.Redis) -> list[bytes]:
    return list(client.zrange(keys.DEAD, 0, -1))


def _where(client: redis.Redis, marker: str, dead: list[bytes]) -> str | None:
    """Where the entry tagged with `marker` ended up."""
    if marker in {value.decode() for value in client.lrange("test:sink", 0, -1)}:
        return "ran"
    for entry in client.zrange(keys.RETRY, 0, -1):
        if marker.encode() in entry:
            assert json.loads(entry).get("error_message"), entry
            return "retry"
    for entry in dead:
        if marker.encode() in entry:
            item = json.loads(entry)
            assert item.get("error_class") and item.get("error_message"), item
            return "dead"
    for queue in client.scan_iter(match="queue:*"):
        if any(marker.encode() in raw for raw in client.lrange(queue, 0, -1)):
            return str(queue.decode())
    return None


def _dead_as_malformed(raw: bytes, dead: list[bytes]) -> bool:
    text = _text(raw)
    for entry in dead:
        item = json.loads(entry)
        if item.get("args") == [text]:
            assert item.get("error_class") and item.get("error_message"), item
            return True
    return False


def _dropped_as_unknown(raw: bytes) -> bool:
    """Whether the entry names a class the worker does not know, with a payload that
    drops its failures instead of keeping them."""
    try:
        job = payload.decode(raw)
    except MalformedPayloadError:
        return False
    if resolution.job_class_name(job) in KNOWN_NAMES:
        return False
    return job.get("retry") is False or job.get("dead") is False


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.tuples(st.sampled_from(PLACES), entries), min_size=1, max_size=6))
def test_a_worker_survives_any_entry_and_buries_bad_ones_with_a_reason(
    fuzz_worker: FuzzWorker, batch: list[tuple[str, tuple[Any, bool]]]
) -> None:
    fuzz = fuzz_worker
    fuzz.batches += 1
    try:
        _check_batch(fuzz, batch)
    except AssertionError:
        fuzz.restart()
        raise


def _check_batch(fuzz: FuzzWorker, batch: list[tuple[str, tuple[Any, bool]]]) -> None:
    pushed: list[tuple[str, bytes, str | None]] = []
    for index, (place, (value, is_object)) in enumerate(batch):
        marker = None
        if is_object:
            marker = f"fz-{uuid.uuid4().hex}"
            raw = encode({**value, "fuzz_id": marker})
        else:
            raw = value
        _push(fuzz, place, raw, index)
        pushed.append((place, raw, marker))
    canaries = _canaries(fuzz)

    wait_for(
        lambda: _settled(fuzz, canaries),
        timeout=10,
        message="the canaries to run and every entry to leave its queue or set\n" + fuzz.log(),
    )
    assert fuzz.worker is not None and fuzz.worker.running(), fuzz.log()
    beat = float(fuzz.client.hget(fuzz.identity, "beat") or 0)
    assert beat > time.time() - 2, "the heartbeat stopped"

    dead = _dead_entries(fuzz.client)
    for place, raw, marker in pushed:
        if marker is not None:
            where = _where(fuzz.client, marker, dead)
            if where is None and _dropped_as_unknown(raw):
                continue
            assert where is not None, f"{place} entry {raw[:300]!r} vanished"
            if place in ("queue", "orphaned"):
                assert where in ("ran", "dead", "retry"), (
                    f"{place} entry {raw[:300]!r} is in {where}"
                )
            continue
        try:
            payload.decode(raw)
        except MalformedPayloadError:
            assert _dead_as_malformed(raw, dead), f"{place} entry {raw[:300]!r} is not in dead"
