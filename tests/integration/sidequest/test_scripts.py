"""Each Lua script's KEYS/ARGV/returns contract, called through sidequest.scripts.

The scripts run on a real redis-server by SHA (EVALSHA), as the runtime calls them.
Every class below drives one script directly, so a change to a script's header
contract shows up here and not only as a strange worker behaviour.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from sidequest import keys, scripts
from tests.integration.sidequest.wakeups import Subscription

IDENTITY = "host:1:abc"
INFLIGHT = keys.inflight(IDENTITY)
LEASE = keys.lease(IDENTITY)
LANDING = keys.landing(IDENTITY)
DAY = datetime(2024, 5, 1, tzinfo=UTC)
PROCESSED_DAY = keys.stat_daily("processed", DAY)
FAILED_DAY = keys.stat_daily("failed", DAY)
DAILY_TTL = 1000
CHANNEL = keys.SCHEDULE_WAKEUP_CHANNEL
# batch_lib.lua's context: no batch is involved in these tests.
BATCH_CONTEXT = (keys.BATCH_PREFIX, keys.QUEUE_PREFIX, keys.QUEUES, keys.BATCH_STATS, "1000.0")


def job(jid: str, queue: str = "default", **extra: Any) -> str:
    return json.dumps({"class": "SomeJob", "args": [jid], "jid": jid, "queue": queue, **extra})


@pytest.fixture
def wakeups(redis_client: redis.Redis) -> Iterator[Subscription]:
    """The schedulers' wakeup channel, subscribed before the test runs a script."""
    subscription = Subscription(redis_client, CHANNEL)
    yield subscription
    subscription.close()


class TestScriptLoading:
    def test_every_script_is_named_by_the_sha1_of_its_source(
        self, redis_client: redis.Redis
    ) -> None:
        scripts.load_all(redis_client)
        assert redis_client.script_exists(*(script.sha for script in scripts.ALL)) == [True] * len(
            scripts.ALL
        )

    def test_every_script_header_documents_keys_argv_and_returns(self) -> None:
        for script in scripts.ALL:
            header = script.source.split("\n\n", 1)[0]
            for word in ("KEYS[1]", "ARGV[1", "Returns"):
                assert word in header, f"{script.name}.lua header lacks {word}"

    def test_a_call_after_script_flush_loads_the_script_and_runs_it_once(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.SCHEDULE, {job("a"): 1})
        redis_client.script_flush()
        assert redis_client.script_exists(scripts.PROMOTE.sha) == [False]

        moved = scripts.PROMOTE(
            redis_client,
            [keys.SCHEDULE, keys.QUEUES, keys.queue("default")],
            [job("a"), "default", job("a", enqueued_at=2.0)],
        )

        assert moved == 1
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("a", enqueued_at=2.0)]
        assert redis_client.script_exists(scripts.PROMOTE.sha) == [True]

    def test_a_script_pipeline_repeats_only_the_calls_answered_noscript(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.SCHEDULE, {job("a"): 1, job("b"): 2})
        redis_client.script_flush()
        batch = scripts.ScriptPipeline(redis_client)
        batch.pipe.incr("counter")
        for jid in ("a", "b"):
            batch.script(
                scripts.PROMOTE,
                [keys.SCHEDULE, keys.QUEUES, keys.queue("default")],
                [job(jid), "default", job(jid)],
            )
        batch.pipe.incr("counter")

        assert batch.execute() == [1, 1, 1, 2]
        # Each job moved once: the NOSCRIPT calls ran again, the others did not.
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("b"), job("a")]
        assert redis_client.get("counter") == "2"
        assert redis_client.script_exists(scripts.PROMOTE.sha) == [True]

    def test_a_script_pipeline_raises_other_errors_after_running_every_call(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.set("text", "not a number")
        redis_client.zadd(keys.SCHEDULE, {job("a"): 1})
        scripts.load_all(redis_client)
        batch = scripts.ScriptPipeline(redis_client)
        batch.pipe.incr("text")
        batch.script(
            scripts.PROMOTE,
            [keys.SCHEDULE, keys.QUEUES, keys.queue("default")],
            [job("a"), "default", job("a")],
        )

        with pytest.raises(redis.ResponseError, match="not an integer"):
            batch.execute()
        assert redis_client.llen(keys.queue("default")) == 1

    def test_an_empty_script_pipeline_sends_nothing(self, redis_client: redis.Redis) -> None:
        assert scripts.ScriptPipeline(redis_client).execute() == []


def exchange(
    client: redis.Redis,
    *,
    plain: Sequence[str] = (),
    special: Sequence[tuple[str, int, str]] = (),
    locks: Sequence[str] = (),
    limit: int = 0,
    token: int = 1,
    queues: Sequence[str] = (),
    landed_acks: Sequence[str] = (),
    adopt: Sequence[tuple[str, str]] = (),
) -> list[Any]:
    script_keys = [
        LEASE,
        INFLIGHT,
        keys.STAT_PROCESSED,
        PROCESSED_DAY,
        LANDING,
        keys.PAUSED,
        *locks,
        *(keys.queue(name) for name in queues),
    ]
    args: list[scripts.Arg] = [
        DAILY_TTL,
        len(plain),
        len(special),
        limit,
        token,
        len(locks),
        len(landed_acks),
        len(adopt),
        0,
        *BATCH_CONTEXT,
    ]
    args.extend(plain)
    for field, lock, jid in special:
        args.extend((field, lock, jid))
    args.extend(landed_acks)
    for field, raw in adopt:
        args.extend((field, raw))
    args.extend(queues)
    reply: list[Any] = scripts.EXCHANGE(client, script_keys, args)
    return reply


class TestExchange:
    def test_acknowledgements_remove_fields_and_count_processed_and_the_day_with_its_ttl(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(INFLIGHT, mapping={"1:default": job("a"), "2:default": job("b")})
        redis_client.hset(INFLIGHT, "3:other", job("c", "other"))

        reply = exchange(redis_client, plain=["1:default", "2:default"])

        assert reply == [2, 1]
        assert redis_client.hgetall(INFLIGHT) == {"3:other": job("c", "other")}
        assert redis_client.get(keys.STAT_PROCESSED) == "2"
        assert redis_client.get(PROCESSED_DAY) == "2"
        assert DAILY_TTL - 5 <= redis_client.ttl(PROCESSED_DAY) <= DAILY_TTL

    def test_counts_add_up_over_several_exchanges(self, redis_client: redis.Redis) -> None:
        redis_client.set(keys.STAT_PROCESSED, 40)
        redis_client.hset(INFLIGHT, mapping={"1:default": job("a"), "2:default": job("b")})

        exchange(redis_client, plain=["1:default"])
        exchange(redis_client, special=[("2:default", 0, "")])

        assert redis_client.get(keys.STAT_PROCESSED) == "42"
        assert redis_client.get(PROCESSED_DAY) == "2"
        assert 0 < redis_client.ttl(PROCESSED_DAY) <= DAILY_TTL

    def test_a_field_already_gone_is_refused_and_not_counted(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        reply = exchange(
            redis_client, plain=["1:default", "7:default"], special=[("8:default", 0, "")]
        )

        assert reply == [1, 1]
        assert redis_client.get(keys.STAT_PROCESSED) == "1"
        assert redis_client.get(PROCESSED_DAY) == "1"

    def test_nothing_acknowledged_writes_no_counter(self, redis_client: redis.Redis) -> None:
        assert exchange(redis_client, plain=["9:default"]) == [0, 1]
        assert not redis_client.exists(keys.STAT_PROCESSED, PROCESSED_DAY)

    def test_a_special_acknowledgement_releases_the_lock_its_jid_still_holds(
        self, redis_client: redis.Redis
    ) -> None:
        mine, others = keys.unique_lock("mine"), keys.unique_lock("others")
        redis_client.set(mine, "jid-a")
        redis_client.set(others, "jid-z")  # taken over by another job since
        redis_client.hset(INFLIGHT, mapping={"1:default": job("jid-a"), "2:default": job("jid-b")})

        reply = exchange(
            redis_client,
            special=[("1:default", 1, "jid-a"), ("2:default", 2, "jid-b")],
            locks=[mine, others],
        )

        assert reply == [2, 1]
        assert not redis_client.exists(mine)
        assert redis_client.get(others) == "jid-z"
        assert redis_client.hlen(INFLIGHT) == 0

    def test_a_refused_acknowledgement_leaves_the_lock_to_the_other_execution(
        self, redis_client: redis.Redis
    ) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-a")  # the recovered execution runs elsewhere

        reply = exchange(redis_client, special=[("1:default", 1, "jid-a")], locks=[lock])

        assert reply == [0, 1]
        assert redis_client.get(lock) == "jid-a"
        assert not redis_client.exists(keys.STAT_PROCESSED)

    def test_a_special_acknowledgement_removes_the_start_marker(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(
            INFLIGHT,
            mapping={"1:default": job("a"), "started:1:default": "1", "started:2:default": "1"},
        )
        redis_client.hset(INFLIGHT, "2:default", job("b"))

        exchange(redis_client, special=[("1:default", 0, "")])

        assert sorted(redis_client.hkeys(INFLIGHT)) == ["2:default", "started:2:default"]

    def test_fetch_takes_from_the_right_in_queue_order_up_to_the_limit_with_consecutive_tokens(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.set(LEASE, "1")
        redis_client.lpush(keys.queue("critical"), job("c1"), job("c2"))
        redis_client.lpush(keys.queue("default"), job("d1"), job("d2"), job("d3"))

        reply = exchange(redis_client, limit=4, token=10, queues=["critical", "default"])

        assert reply == [
            0,
            1,
            "10:critical",
            job("c1"),
            "11:critical",
            job("c2"),
            "12:default",
            job("d1"),
            "13:default",
            job("d2"),
        ]
        assert redis_client.hgetall(INFLIGHT) == dict(zip(reply[2::2], reply[3::2], strict=True))
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("d3")]
        assert not redis_client.exists(keys.queue("critical"))

    def test_fetch_skips_empty_and_missing_queues(self, redis_client: redis.Redis) -> None:
        redis_client.set(LEASE, "1")
        redis_client.lpush(keys.queue("low"), job("l1"))

        reply = exchange(redis_client, limit=5, token=1, queues=["missing", "low"])

        assert reply == [0, 1, "1:low", job("l1")]

    def test_fetch_skips_paused_queues_and_takes_from_the_others(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.set(LEASE, "1")
        redis_client.sadd(keys.PAUSED, "critical", "elsewhere")
        redis_client.lpush(keys.queue("critical"), job("c1"))
        redis_client.lpush(keys.queue("default"), job("d1"))

        reply = exchange(redis_client, limit=5, token=1, queues=["critical", "default"])

        assert reply == [0, 1, "1:default", job("d1")]
        assert redis_client.lrange(keys.queue("critical"), 0, -1) == [job("c1")]

    def test_fetch_with_nothing_queued_writes_no_inflight_hash(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.set(LEASE, "1")
        assert exchange(redis_client, limit=5, queues=["default"]) == [0, 1]
        assert not redis_client.exists(INFLIGHT)

    def test_acknowledgement_and_fetch_happen_in_the_same_call(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.set(LEASE, "1")
        redis_client.hset(INFLIGHT, "1:default", job("done"))
        redis_client.lpush(keys.queue("default"), job("next"))

        reply = exchange(redis_client, plain=["1:default"], limit=1, token=2, queues=["default"])

        assert reply == [1, 1, "2:default", job("next")]
        assert redis_client.hgetall(INFLIGHT) == {"2:default": job("next")}

    def test_without_the_lease_nothing_is_fetched_but_acknowledgements_apply(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(INFLIGHT, "1:default", job("done"))
        redis_client.lpush(keys.queue("default"), job("waiting"))

        reply = exchange(redis_client, plain=["1:default"], limit=5, queues=["default"])

        assert reply == [1, 0]
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("waiting")]
        assert not redis_client.exists(INFLIGHT)
        assert redis_client.get(keys.STAT_PROCESSED) == "1"

    def test_a_limit_of_zero_only_acknowledges_even_without_the_lease(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.lpush(keys.queue("default"), job("waiting"))
        assert exchange(redis_client, limit=0, queues=["default"]) == [0, 1]
        assert redis_client.llen(keys.queue("default")) == 1


def fail(
    client: redis.Redis,
    field: str,
    mode: str,
    *,
    target: str | None = None,
    score: float = 1000.0,
    stored: str = "",
    dead_max: int = 100,
    dead_cutoff: float = 0.0,
    lock: str | None = None,
    jid: str = "",
    channel: str = "",
) -> int:
    script_keys = [
        INFLIGHT,
        target or (keys.RETRY if mode == "retry" else keys.DEAD),
        keys.STAT_PROCESSED,
        keys.STAT_FAILED,
        PROCESSED_DAY,
        FAILED_DAY,
    ]
    if lock is not None:
        script_keys.append(lock)
    applied: int = scripts.FAIL(
        client,
        script_keys,
        [field, mode, repr(score), stored, DAILY_TTL, dead_max, repr(dead_cutoff), jid, channel],
    )
    return applied


def assert_counted_once(client: redis.Redis) -> None:
    for key in (keys.STAT_PROCESSED, keys.STAT_FAILED, PROCESSED_DAY, FAILED_DAY):
        assert client.get(key) == "1", key
    for key in (PROCESSED_DAY, FAILED_DAY):
        assert DAILY_TTL - 5 <= client.ttl(key) <= DAILY_TTL, key


class TestFail:
    def test_retry_moves_the_payload_to_retry_at_its_score_and_counts_it(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(INFLIGHT, mapping={"1:default": job("a"), "started:1:default": "1"})
        failed = job("a", retry_count=0, error_class="ValueError")

        applied = fail(redis_client, "1:default", "retry", score=1234.5, stored=failed)

        assert applied == 1
        assert redis_client.zrange(keys.RETRY, 0, -1, withscores=True) == [(failed, 1234.5)]
        assert not redis_client.exists(INFLIGHT)
        assert_counted_once(redis_client)

    def test_retry_publishes_its_score_on_the_given_channel(
        self, redis_client: redis.Redis, wakeups: Subscription
    ) -> None:
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        fail(redis_client, "1:default", "retry", score=1234.5, stored=job("a"), channel=CHANNEL)

        assert wakeups.messages() == ["1234.5"]

    def test_retry_without_a_channel_publishes_nothing(
        self, redis_client: redis.Redis, wakeups: Subscription
    ) -> None:
        redis_client.hset(INFLIGHT, "1:default", job("a"))
        fail(redis_client, "1:default", "retry", stored="x")
        assert wakeups.messages() == []

    def test_retry_keeps_the_unique_lock_of_its_jid(self, redis_client: redis.Redis) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-a")
        redis_client.hset(INFLIGHT, "1:default", job("jid-a"))

        fail(redis_client, "1:default", "retry", stored="x", lock=lock, jid="jid-a")

        assert redis_client.get(lock) == "jid-a"

    def test_dead_buries_the_payload_and_releases_the_lock_its_jid_holds(
        self, redis_client: redis.Redis
    ) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-a")
        redis_client.hset(INFLIGHT, "1:default", job("jid-a"))

        applied = fail(
            redis_client, "1:default", "dead", score=500.0, stored="buried", lock=lock, jid="jid-a"
        )

        assert applied == 1
        assert redis_client.zrange(keys.DEAD, 0, -1, withscores=True) == [("buried", 500.0)]
        assert not redis_client.exists(lock)
        assert_counted_once(redis_client)

    def test_dead_and_discard_leave_a_lock_held_by_another_jid(
        self, redis_client: redis.Redis
    ) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-z")
        redis_client.hset(INFLIGHT, mapping={"1:default": job("a"), "2:default": job("b")})

        fail(redis_client, "1:default", "dead", stored="x", lock=lock, jid="jid-a")
        fail(redis_client, "2:default", "discard", stored="", lock=lock, jid="jid-b")

        assert redis_client.get(lock) == "jid-z"

    def test_dead_publishes_nothing_even_with_a_channel(
        self, redis_client: redis.Redis, wakeups: Subscription
    ) -> None:
        redis_client.hset(INFLIGHT, "1:default", job("a"))
        fail(redis_client, "1:default", "dead", stored="x", channel=CHANNEL)
        assert wakeups.messages() == []

    def test_the_dead_set_is_trimmed_to_its_most_recent_entries(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.DEAD, {"old-1": 100, "old-2": 200, "old-3": 300})
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        fail(redis_client, "1:default", "dead", score=400.0, stored="newest", dead_max=2)

        assert redis_client.zrange(keys.DEAD, 0, -1) == ["old-3", "newest"]

    def test_the_dead_set_drops_entries_at_or_below_the_age_cutoff(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.DEAD, {"old-1": 100, "old-2": 200, "old-3": 300})
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        fail(redis_client, "1:default", "dead", score=400.0, stored="newest", dead_cutoff=200)

        assert redis_client.zrange(keys.DEAD, 0, -1) == ["old-3", "newest"]

    def test_discard_writes_no_set_but_counts_and_releases_the_lock(
        self, redis_client: redis.Redis
    ) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-a")
        redis_client.hset(INFLIGHT, mapping={"1:default": job("jid-a"), "started:1:default": "1"})

        applied = fail(redis_client, "1:default", "discard", stored="gone", lock=lock, jid="jid-a")

        assert applied == 1
        assert not redis_client.exists(keys.DEAD, keys.RETRY, INFLIGHT, lock)
        assert_counted_once(redis_client)

    def test_a_recovered_execution_is_fenced_off(
        self, redis_client: redis.Redis, wakeups: Subscription
    ) -> None:
        lock = keys.unique_lock("digest")
        redis_client.set(lock, "jid-a")

        for mode in ("retry", "dead", "discard"):
            applied = fail(
                redis_client, "1:default", mode, stored="x", lock=lock, jid="jid-a", channel=CHANNEL
            )
            assert applied == 0, mode

        assert wakeups.messages() == []
        assert redis_client.get(lock) == "jid-a"
        assert not redis_client.exists(
            keys.RETRY,
            keys.DEAD,
            keys.STAT_PROCESSED,
            keys.STAT_FAILED,
            PROCESSED_DAY,
            FAILED_DAY,
        )


class TestRequeue:
    def test_jobs_go_back_to_the_right_end_in_the_order_given(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.lpush(keys.queue("default"), job("waiting"))
        redis_client.hset(
            INFLIGHT,
            mapping={
                "1:default": job("a"),
                "2:default": job("b"),
                "3:other": job("c", "other"),
                "started:2:default": "1",
            },
        )

        moved = scripts.REQUEUE(
            redis_client,
            [INFLIGHT, keys.queue("default"), keys.queue("other"), keys.queue("default")],
            ["2:default", "3:other", "1:default"],
        )

        assert moved == 3
        # The last one pushed is the first a worker takes (from the right).
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [
            job("waiting"),
            job("b"),
            job("a"),
        ]
        assert redis_client.rpop(keys.queue("default")) == job("a")
        assert redis_client.lrange(keys.queue("other"), 0, -1) == [job("c", "other")]
        assert not redis_client.exists(INFLIGHT)

    def test_fields_already_gone_are_skipped(self, redis_client: redis.Redis) -> None:
        redis_client.hset(INFLIGHT, "2:default", job("b"))

        moved = scripts.REQUEUE(
            redis_client,
            [INFLIGHT, keys.queue("other"), keys.queue("default")],
            ["1:other", "2:default"],
        )

        assert moved == 1
        assert not redis_client.exists(keys.queue("other"))
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("b")]


def recover(
    client: redis.Redis,
    entries: Sequence[tuple[str, str, str, str, str]],
    *,
    now: float = 1000.0,
    dead_max: int = 100,
    dead_cutoff: float = 0.0,
    recoveries_ttl: int = 500,
    landed: dict[str, str] | None = None,
) -> int:
    """entries: (field, queue, mode, jid, payload); a field "" names a landed job."""
    args: list[scripts.Arg] = [IDENTITY, repr(now), dead_max, repr(dead_cutoff)]
    args.extend((recoveries_ttl, DAILY_TTL, *BATCH_CONTEXT))
    for field, _, mode, jid, stored in entries:
        landed_raw = (landed or {}).get(stored, stored) if not field else ""
        args.extend((field, mode, jid, stored, landed_raw, "", ""))
    moved: int = scripts.RECOVER(
        client,
        [
            LEASE,
            INFLIGHT,
            keys.OWNERS,
            keys.DEAD,
            keys.RECOVERIES,
            keys.STAT_FAILED,
            FAILED_DAY,
            LANDING,
            *(keys.queue(queue) for _, queue, _, _, _ in entries),
        ],
        args,
    )
    return moved


class TestRecover:
    def test_nothing_happens_while_the_lease_exists(self, redis_client: redis.Redis) -> None:
        redis_client.set(LEASE, "1")
        redis_client.sadd(keys.OWNERS, IDENTITY)
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        moved = recover(redis_client, [("1:default", "default", "front", "a", job("a"))])

        assert moved == -1
        assert redis_client.hgetall(INFLIGHT) == {"1:default": job("a")}
        assert redis_client.smembers(keys.OWNERS) == {IDENTITY}
        assert not redis_client.exists(keys.queue("default"), keys.RECOVERIES)

    def test_front_goes_to_the_right_end_and_back_to_the_left_end(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.lpush(keys.queue("default"), job("waiting"))
        redis_client.hset(INFLIGHT, mapping={"1:default": job("a"), "2:default": job("b")})

        moved = recover(
            redis_client,
            [
                ("1:default", "default", "front", "a", job("a", recoveries=1)),
                ("2:default", "default", "back", "b", job("b", recoveries=2)),
            ],
        )

        assert moved == 2
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [
            job("b", recoveries=2),
            job("waiting"),
            job("a", recoveries=1),
        ]

    def test_dead_buries_the_payload_counts_a_failure_and_trims_the_dead_set(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.DEAD, {"too-old": 10, "old-1": 100, "old-2": 200})
        redis_client.hset(INFLIGHT, "1:default", job("a"))

        moved = recover(
            redis_client,
            [("1:default", "default", "dead", "", "poisoned")],
            now=1000.0,
            dead_max=2,
            dead_cutoff=10,
        )

        assert moved == 1
        assert redis_client.zrange(keys.DEAD, 0, -1, withscores=True) == [
            ("old-2", 200.0),
            ("poisoned", 1000.0),
        ]
        assert redis_client.get(keys.STAT_FAILED) == "1"
        assert redis_client.get(FAILED_DAY) == "1"
        assert DAILY_TTL - 5 <= redis_client.ttl(FAILED_DAY) <= DAILY_TTL
        assert not redis_client.exists(keys.queue("default"), keys.STAT_PROCESSED)

    def test_recoveries_are_counted_only_for_entries_given_a_jid(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.hset(keys.RECOVERIES, "a", 1)
        redis_client.hset(
            INFLIGHT,
            mapping={"1:default": job("a"), "2:default": job("b"), "3:default": job("c")},
        )

        recover(
            redis_client,
            [
                ("1:default", "default", "back", "a", job("a")),
                ("2:default", "default", "front", "", job("b")),
                ("3:default", "default", "front", "c", job("c")),
            ],
            recoveries_ttl=500,
        )

        assert redis_client.hgetall(keys.RECOVERIES) == {"a": "2", "c": "1"}
        assert 490 <= redis_client.ttl(keys.RECOVERIES) <= 500

    def test_the_owner_is_removed_once_the_hash_is_empty(self, redis_client: redis.Redis) -> None:
        redis_client.sadd(keys.OWNERS, IDENTITY, "someone-else")
        redis_client.hset(
            INFLIGHT,
            mapping={
                "1:default": job("a"),
                "2:default": job("b"),
                "started:1:default": "1",
                "started:2:default": "1",
            },
        )

        recover(redis_client, [("1:default", "default", "front", "a", job("a"))])
        assert sorted(redis_client.hkeys(INFLIGHT)) == ["2:default", "started:2:default"]
        assert redis_client.smembers(keys.OWNERS) == {IDENTITY, "someone-else"}

        recover(redis_client, [("2:default", "default", "front", "b", job("b"))])
        assert not redis_client.exists(INFLIGHT)
        assert redis_client.smembers(keys.OWNERS) == {"someone-else"}

    def test_fields_already_gone_are_skipped_and_not_charged(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.sadd(keys.OWNERS, IDENTITY)

        moved = recover(redis_client, [("1:default", "default", "front", "a", job("a"))])

        assert moved == 0
        assert not redis_client.exists(keys.queue("default"), keys.RECOVERIES)
        assert not redis_client.smembers(keys.OWNERS)


class TestPromote:
    def test_moves_each_due_member_to_its_own_queue(self, redis_client: redis.Redis) -> None:
        redis_client.zadd(keys.SCHEDULE, {job("a"): 1, job("b", "mail"): 2, job("later"): 9e9})
        redis_client.lpush(keys.queue("default"), job("waiting"))

        moved = scripts.PROMOTE(
            redis_client,
            [keys.SCHEDULE, keys.QUEUES, keys.queue("default"), keys.queue("mail")],
            [job("a"), "default", "pushed-a", job("b", "mail"), "mail", "pushed-b"],
        )

        assert moved == 2
        # Pushed on the left: behind the jobs already waiting.
        assert redis_client.lrange(keys.queue("default"), 0, -1) == ["pushed-a", job("waiting")]
        assert redis_client.lrange(keys.queue("mail"), 0, -1) == ["pushed-b"]
        assert redis_client.smembers(keys.QUEUES) == {"default", "mail"}
        assert redis_client.zrange(keys.SCHEDULE, 0, -1) == [job("later")]

    def test_moves_only_the_members_this_call_removed(self, redis_client: redis.Redis) -> None:
        redis_client.zadd(keys.RETRY, {job("a"): 1})

        moved = scripts.PROMOTE(
            redis_client,
            [keys.RETRY, keys.QUEUES, keys.queue("gone"), keys.queue("default")],
            [job("gone"), "gone", "pushed-gone", job("a"), "default", "pushed-a"],
        )

        assert moved == 1
        assert not redis_client.exists(keys.queue("gone"))
        assert redis_client.smembers(keys.QUEUES) == {"default"}
        assert redis_client.lrange(keys.queue("default"), 0, -1) == ["pushed-a"]

    def test_two_racing_calls_move_each_member_once(self, redis_url: str) -> None:
        members = [job(f"j{n}") for n in range(300)]
        setup = redis.Redis.from_url(redis_url, decode_responses=True)
        setup.zadd(keys.SCHEDULE, {member: n for n, member in enumerate(members)})
        batches = [members[at : at + 10] for at in range(0, len(members), 10)]
        results: list[int] = []
        start = threading.Barrier(2)

        def promote() -> None:
            client = redis.Redis.from_url(redis_url)
            start.wait()
            for batch in batches:  # small batches interleave the two callers
                args: list[scripts.Arg] = []
                for member in batch:
                    args.extend((member, "default", member))
                script_keys = [keys.SCHEDULE, keys.QUEUES, *[keys.queue("default")] * len(batch)]
                results.append(int(scripts.PROMOTE(client, script_keys, args)))
            client.close()

        threads = [threading.Thread(target=promote) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert sum(results) == len(members)
        assert sorted(setup.lrange(keys.queue("default"), 0, -1)) == sorted(members)
        assert setup.zcard(keys.SCHEDULE) == 0
        setup.close()


class TestPushUnique:
    def push(
        self, client: redis.Redis, jid: str, *, score: str = "", target: str | None = None
    ) -> list[Any]:
        reply: list[Any] = scripts.PUSH_UNIQUE(
            client,
            [keys.unique_lock("digest"), keys.QUEUES, target or keys.queue("default")],
            [jid, 60_000, "default", job(jid), score, CHANNEL],
        )
        return reply

    def test_pushes_now_and_takes_the_lock_with_its_ttl(self, redis_client: redis.Redis) -> None:
        assert self.push(redis_client, "jid-a") == [1]
        assert redis_client.get(keys.unique_lock("digest")) == "jid-a"
        assert 59_000 <= redis_client.pttl(keys.unique_lock("digest")) <= 60_000
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("jid-a")]
        assert redis_client.smembers(keys.QUEUES) == {"default"}

    def test_schedules_at_the_score_and_publishes_it(
        self, redis_client: redis.Redis, wakeups: Subscription
    ) -> None:
        assert self.push(redis_client, "jid-a", score="4567.25", target=keys.SCHEDULE) == [1]

        assert wakeups.messages() == ["4567.25"]
        assert redis_client.zrange(keys.SCHEDULE, 0, -1, withscores=True) == [
            (job("jid-a"), 4567.25)
        ]
        assert not redis_client.exists(keys.QUEUES, keys.queue("default"))
        assert redis_client.get(keys.unique_lock("digest")) == "jid-a"

    def test_a_second_push_is_refused_with_the_holder_and_writes_nothing(
        self, redis_client: redis.Redis
    ) -> None:
        self.push(redis_client, "jid-a")
        redis_client.pexpire(keys.unique_lock("digest"), 30_000)

        assert self.push(redis_client, "jid-b") == [0, "jid-a"]
        assert self.push(redis_client, "jid-c", score="1.0", target=keys.SCHEDULE) == [0, "jid-a"]
        assert redis_client.lrange(keys.queue("default"), 0, -1) == [job("jid-a")]
        assert not redis_client.exists(keys.SCHEDULE)
        assert redis_client.pttl(keys.unique_lock("digest")) <= 30_000

    def test_a_push_after_the_lock_is_released_succeeds(self, redis_client: redis.Redis) -> None:
        self.push(redis_client, "jid-a")
        redis_client.delete(keys.unique_lock("digest"))
        assert self.push(redis_client, "jid-b") == [1]
        assert redis_client.get(keys.unique_lock("digest")) == "jid-b"


class TestKill:
    def kill(self, client: redis.Redis, member: str, *, dead_max: int = 100) -> int:
        moved: int = scripts.KILL(
            client,
            [keys.RETRY, keys.DEAD],
            [member, "buried:" + member, "1000.5", dead_max, "50"],
        )
        return moved

    def test_moves_the_member_to_the_dead_set_at_now_and_trims_it(
        self, redis_client: redis.Redis
    ) -> None:
        redis_client.zadd(keys.RETRY, {"a": 10, "b": 20})
        redis_client.zadd(keys.DEAD, {"ancient": 50, "old-1": 100, "old-2": 200})

        assert self.kill(redis_client, "a", dead_max=2) == 1

        assert redis_client.zrange(keys.RETRY, 0, -1) == ["b"]
        assert redis_client.zrange(keys.DEAD, 0, -1, withscores=True) == [
            ("old-2", 200.0),
            ("buried:a", 1000.5),
        ]

    def test_a_member_already_gone_is_not_buried(self, redis_client: redis.Redis) -> None:
        redis_client.zadd(keys.RETRY, {"a": 10})

        assert self.kill(redis_client, "a") == 1
        assert self.kill(redis_client, "a") == 0

        assert redis_client.zrange(keys.DEAD, 0, -1) == ["buried:a"]
