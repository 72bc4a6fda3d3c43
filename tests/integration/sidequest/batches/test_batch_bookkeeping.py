"""The batch bookkeeping inside the scripts that finish jobs, driven through the
runtime's gateways (InflightStore, RecoveryStore, the sorted-set API) on a real Redis.

These show the atomic step by construction: a batch member's success, its batch
counters and its callbacks are one EVALSHA, so no crash can fall between them; and a
refused (fenced) outcome changes nothing in its batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from sidequest import keys, payload
from sidequest.api.sorted_sets import SortedSet
from sidequest.batches import Batch, chain
from sidequest.config import Settings
from sidequest.runtime import links
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.outcome import Ack, Failure
from sidequest.runtime.outcome import Batch as Written
from sidequest.runtime.store.inflight import InflightStore
from sidequest.runtime.store.recovery import RecoveryEntry, RecoveryStore
from tests.integration.sidequest.batches.batch_jobs import CallbackJob, MemberJob, StepJob

IDENTITY = "host:1:batches"


class RecordingRedis(redis.Redis):
    """A client that notes the name of every command it sends."""

    sent: list[str]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


@pytest.fixture
def client(redis_url: str) -> Iterator[RecordingRedis]:
    recording = RecordingRedis(connection_pool=redis.ConnectionPool.from_url(redis_url))
    recording.sent = []
    yield recording
    recording.close()


@pytest.fixture
def store(client: RecordingRedis) -> InflightStore:
    return InflightStore(client, IDENTITY, Settings())


def fetch_all(store: InflightStore, queue: str = "default") -> list[Fetched]:
    store.redis.set(keys.lease(IDENTITY), "1")
    return store.exchange(Written(), 100, [queue]).fetched


def ack(job: Fetched) -> Ack:
    decoded = payload.decode(job.raw)
    return Ack(job, str(decoded["jid"]), None, False, links.link_of(decoded, 1.0))


def fail(job: Fetched, mode: str) -> Failure:
    decoded = payload.decode(job.raw)
    return Failure(
        job,
        mode,
        1.0,
        payload.encode(decoded),
        str(decoded["jid"]),
        None,
        links.bid_of(decoded),  # type: ignore[arg-type]
    )


def new_batch(client: redis.Redis) -> Batch:
    return Batch(
        "bookkeeping",
        on_success=(CallbackJob, ["success"]),
        on_complete=(CallbackJob, ["complete"]),
        on_death=(CallbackJob, ["death"]),
        client=client,
    )


def one_member(client: redis.Redis, store: InflightStore) -> tuple[Batch, Fetched]:
    """A new batch of one MemberJob, and that job as a worker fetched it."""
    batch = new_batch(client)
    with batch:
        MemberJob.perform_later(1)
    [job] = fetch_all(store)
    return batch, job


def callback_labels(client: redis.Redis, queue: str = "default") -> list[str]:
    entries = client.lrange(keys.queue(queue), 0, -1)
    found = [json.loads(entry) for entry in entries]
    return sorted(job["args"][0] for job in found if job["class"] == "CallbackJob")


def test_the_last_success_its_counters_and_its_callbacks_are_one_script_call(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch, job = one_member(client, store)
    client.sent.clear()

    store.exchange(Written(linked=[ack(job)]), 0, [])

    # One command, EVALSHA: nothing a SIGKILL could separate from the acknowledgement.
    assert client.sent == ["EVALSHA"]
    assert callback_labels(client) == ["complete", "success"]
    status = batch.status()
    assert (status.pending, status.succeeded, status.complete) == (0, 1, True)
    assert not client.exists(keys.inflight(IDENTITY))


def test_a_fenced_late_acknowledgement_changes_nothing_in_its_batch(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch = new_batch(client)
    with batch:
        MemberJob.perform_later(1)
        MemberJob.perform_later(2)
    first, second = fetch_all(store)
    # Another process recovered the first job (our lease had expired): its field is gone.
    client.hdel(keys.inflight(IDENTITY), first.field)

    exchanged = store.exchange(Written(linked=[ack(first)]), 0, [])

    assert exchanged.refused == 1
    status = batch.status()
    assert (status.pending, status.succeeded) == (2, 0)
    assert callback_labels(client) == []
    # A refused failure is not counted either.
    client.hdel(keys.inflight(IDENTITY), second.field)
    store.exchange(Written(failures=[fail(second, "dead")]), 0, [])
    assert (batch.status().dead, batch.status().pending) == (0, 2)


def test_a_retry_counts_as_failed_until_its_success_and_a_second_success_counts_once(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch, job = one_member(client, store)
    store.exchange(Written(failures=[fail(job, "retry")]), 0, [])
    status = batch.status()
    assert (status.failed, status.pending, status.complete) == (1, 1, False)

    # The retry runs twice (at least once): the first success settles it, the second is
    # a duplicate and changes nothing.
    client.lpush(keys.queue("default"), job.raw)
    client.lpush(keys.queue("default"), job.raw)
    again, duplicate = fetch_all(store)
    store.exchange(Written(linked=[ack(again)]), 0, [])
    store.exchange(Written(linked=[ack(duplicate)]), 0, [])
    status = batch.status()
    assert (status.failed, status.succeeded, status.pending, status.total) == (0, 1, 0, 1)
    assert callback_labels(client) == ["complete", "success"]


def test_a_discarded_member_counts_as_dead(client: RecordingRedis, store: InflightStore) -> None:
    batch, job = one_member(client, store)
    store.exchange(Written(failures=[fail(job, "discard")]), 0, [])
    status = batch.status()
    assert (status.dead, status.complete, status.success) == (1, True, False)
    assert callback_labels(client) == ["complete", "death"]


def test_a_poison_pill_buried_by_recovery_counts_as_dead(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch, job = one_member(client, store)
    client.delete(keys.lease(IDENTITY))
    decoded = payload.decode(job.raw)
    entry = RecoveryEntry(
        job.field, "default", "", "dead", job.raw.decode(), bid=batch.bid, member=decoded["jid"]
    )
    assert RecoveryStore(client, "recoverer", Settings()).recover(IDENTITY, [entry]) == 1
    assert (batch.status().dead, batch.status().complete) == (1, True)
    assert callback_labels(client) == ["complete", "death"]


def test_an_operator_killing_a_retrying_member_counts_its_death(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch, job = one_member(client, store)
    store.exchange(Written(failures=[fail(job, "retry")]), 0, [])
    retry = SortedSet(client, keys.RETRY)
    [entry] = retry.page(0, 10)
    assert retry.kill(entry)
    status = batch.status()
    assert (status.failed, status.dead, status.complete) == (0, 1, True)
    assert callback_labels(client) == ["complete", "death"]


def test_a_landed_member_is_acknowledged_from_the_landing_list_with_its_batch(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch = new_batch(client)
    with batch:
        MemberJob.perform_later(1)
    raw = client.rpop(keys.queue("default"))
    assert isinstance(raw, bytes)
    client.lpush(keys.landing(IDENTITY), raw)
    landed = Fetched("", "default", raw, Holding.LANDED)
    store.exchange(Written(linked=[ack(landed)]), 0, [])
    assert not client.exists(keys.landing(IDENTITY))
    assert batch.status().complete


def test_a_chain_step_pushes_the_next_one_in_its_acknowledgement(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch = new_batch(client)
    with batch:
        chain(StepJob.s("a"), StepJob.s("b"), StepJob.s("c")).perform_later()
    for label in ("a", "b", "c"):
        [step] = fetch_all(store)
        assert payload.decode(step.raw)["args"] == [label]
        assert batch.status().pending == 1
        store.exchange(Written(linked=[ack(step)]), 0, [])
    status = batch.status()
    assert (status.total, status.succeeded, status.complete) == (3, 3, True)
    assert callback_labels(client) == ["complete", "success"]


def test_a_settled_chain_step_run_again_does_not_push_its_next_step_twice(
    client: RecordingRedis, store: InflightStore
) -> None:
    batch = new_batch(client)
    with batch:
        chain(StepJob.s("a"), StepJob.s("b")).perform_later()
    [step] = fetch_all(store)
    client.lpush(keys.queue("default"), step.raw)  # a duplicate of step a
    store.exchange(Written(linked=[ack(step)]), 0, [])
    duplicate, following = fetch_all(store)
    store.exchange(Written(linked=[ack(duplicate)]), 0, [])
    assert payload.decode(following.raw)["args"] == ["b"]
    assert client.llen(keys.queue("default")) == 0
    assert batch.status().total == 2


def test_reopening_a_complete_batch_writes_nothing(client: RecordingRedis) -> None:
    batch = new_batch(client)
    with batch:
        pass
    assert batch.status().complete
    queued = client.llen(keys.queue("default"))
    with pytest.raises(Exception, match="complete"), Batch.existing(batch.bid, client):
        MemberJob.perform_later(1)
    assert client.llen(keys.queue("default")) == queued
    assert batch.status().total == 0
