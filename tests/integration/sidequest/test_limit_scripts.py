"""The limiters' Lua scripts on a real Redis, through their gateway (LimitStore), and
what the read side (api.Limits, `sidequest stats`, the Prometheus middleware) shows."""

from __future__ import annotations

import json

import redis
from prometheus_client import CollectorRegistry

from sidequest import api, keys, scripts
from sidequest.metrics.prometheus import JobMetricSet, PrometheusMiddleware
from sidequest.runtime.store.limits import Acquired, Admission, Bound, LimitStore, Verdict
from tests.integration.sidequest.test_cli import sidequest

ME = "host:1:aaaaaaaaaaaa"
OTHER = "host:2:bbbbbbbbbbbb"
SLOT = Bound("concurrency", "acct:1", 2, 300.0)
RATE = Bound("rate", "api", 2, 1.0)


def job(jid: str, queue: str = "default") -> str:
    return json.dumps({"class": "ChargeJob", "args": [1], "jid": jid, "queue": queue})


def hold(client: redis.Redis, identity: str, field: str, raw: str) -> None:
    """Put `raw` in `identity`'s in-flight hash under `field`, with a live lease."""
    client.hset(keys.inflight(identity), field, raw)
    client.set(keys.lease(identity), "1", px=60_000)


def acquire(store: LimitStore, field: str, raw: str, holder: str, *bounds: Bound) -> Acquired:
    [acquired] = store.exchange([], [Admission(field, raw.encode(), holder, bounds)])
    return acquired


def admit(store: LimitStore, field: str, raw: str, holder: str, *bounds: Bound) -> Verdict:
    return acquire(store, field, raw, holder, *bounds).verdict


def test_slots_are_taken_until_full_then_jobs_park_out_of_the_inflight_hash(
    redis_client: redis.Redis,
) -> None:
    store = LimitStore(redis_client, ME)
    for n in range(3):
        hold(redis_client, ME, f"{n}:default", job(f"j{n}"))
    assert admit(store, "0:default", job("j0"), f"{ME}|0", SLOT) is Verdict.ADMITTED
    assert admit(store, "1:default", job("j1"), f"{ME}|1", SLOT) is Verdict.ADMITTED
    assert admit(store, "2:default", job("j2"), f"{ME}|2", SLOT) is Verdict.PARKED
    # The refused job left the in-flight hash and waits, with `limited_at`, in one step.
    assert set(redis_client.hkeys(keys.inflight(ME))) == {"0:default", "1:default"}
    [parked] = redis_client.lrange(keys.limit_parked("acct:1"), 0, -1)
    assert json.loads(parked) == {
        **json.loads(job("j2")),
        "limited_at": json.loads(parked)["limited_at"],
    }
    assert redis_client.sismember(keys.LIMITS_WAITING, "acct:1")
    # Releasing a slot moves the parked job to the front (right end) of its queue.
    redis_client.lpush(keys.queue("default"), job("later"))
    store.exchange([(f"{ME}|0", SLOT)], [])
    assert json.loads(redis_client.lindex(keys.queue("default"), -1))["jid"] == "j2"
    assert not redis_client.sismember(keys.LIMITS_WAITING, "acct:1")
    assert redis_client.zrange(keys.limit_slots("acct:1"), 0, -1) == [f"{ME}|1"]


def test_a_job_no_longer_held_is_neither_admitted_nor_parked(redis_client: redis.Redis) -> None:
    store = LimitStore(redis_client, ME)
    redis_client.set(keys.lease(ME), "1")
    for n in range(2):
        hold(redis_client, ME, f"{n}:default", job(f"j{n}"))
        admit(store, f"{n}:default", job(f"j{n}"), f"{ME}|{n}", SLOT)
    assert admit(store, "9:default", job("gone"), f"{ME}|9", SLOT) is Verdict.GONE
    assert redis_client.llen(keys.limit_parked("acct:1")) == 0


def test_a_landed_job_adopted_meanwhile_is_found_in_the_inflight_hash(
    redis_client: redis.Redis,
) -> None:
    store = LimitStore(redis_client, ME)
    for n in range(2):
        hold(redis_client, ME, f"{n}:default", job(f"j{n}"))
        admit(store, f"{n}:default", job(f"j{n}"), f"{ME}|{n}", SLOT)
    # Landed, then adopted by the fetcher under a field the processor has not seen.
    hold(redis_client, ME, "7:default", job("landed"))
    assert admit(store, "", job("landed"), f"{ME}|7", SLOT) is Verdict.PARKED
    assert not redis_client.hexists(keys.inflight(ME), "7:default")


def test_slots_of_a_process_whose_lease_expired_come_back(redis_client: redis.Redis) -> None:
    store = LimitStore(redis_client, ME)
    hold(redis_client, OTHER, "0:default", job("o0"))
    hold(redis_client, OTHER, "1:default", job("o1"))
    other = LimitStore(redis_client, OTHER)
    admit(other, "0:default", job("o0"), f"{OTHER}|0", SLOT)
    admit(other, "1:default", job("o1"), f"{OTHER}|1", SLOT)
    hold(redis_client, ME, "0:default", job("mine"))
    assert admit(store, "0:default", job("mine"), f"{ME}|0", SLOT) is Verdict.PARKED
    # The other process is killed: once its lease is gone its slots are free, and the
    # sweep (every heartbeat interval) wakes the parked job without any release.
    redis_client.delete(keys.lease(OTHER))
    assert store.sweep() == 1
    assert json.loads(redis_client.lindex(keys.queue("default"), -1))["jid"] == "mine"
    assert redis_client.zcard(keys.limit_slots("acct:1")) == 0


def test_a_refresh_keeps_a_slot_and_a_lapsed_one_is_dropped(redis_client: redis.Redis) -> None:
    store = LimitStore(redis_client, ME)
    short = Bound("concurrency", "short", 1, 0.05)
    hold(redis_client, ME, "0:default", job("a"))
    admit(store, "0:default", job("a"), f"{ME}|0", short)
    lapse = float(redis_client.zscore(keys.limit_slots("short"), f"{ME}|0") or 0)
    store.refresh([(f"{ME}|0", Bound("concurrency", "short", 1, 60.0))])
    assert float(redis_client.zscore(keys.limit_slots("short"), f"{ME}|0") or 0) > lapse + 50
    redis_client.zadd(keys.limit_slots("short"), {f"{ME}|0": 1.0})  # lapsed long ago
    hold(redis_client, ME, "1:default", job("b"))
    assert admit(store, "1:default", job("b"), f"{ME}|1", short) is Verdict.ADMITTED


def test_a_rate_limit_throttles_into_the_schedule_set_and_returns_to_the_front(
    redis_client: redis.Redis,
) -> None:
    store = LimitStore(redis_client, ME)
    for n in range(3):
        hold(redis_client, ME, f"{n}:default", job(f"r{n}"))
    assert admit(store, "0:default", job("r0"), f"{ME}|0", RATE) is Verdict.ADMITTED
    assert admit(store, "1:default", job("r1"), f"{ME}|1", RATE) is Verdict.ADMITTED
    refused = acquire(store, "2:default", job("r2"), f"{ME}|2", RATE)
    assert refused.verdict is Verdict.THROTTLED
    starts = redis_client.zrange(keys.limit_starts("api"), 0, -1, withscores=True)
    first = min(float(score) for _, score in starts)
    assert abs(refused.at - (first + 1.0)) < 1e-3
    [(member, score)] = redis_client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    assert '"throttled_at"' in str(member) and abs(float(score) - refused.at) < 1e-3
    assert not redis_client.hexists(keys.inflight(ME), "2:default")
    # The scheduler's promote.lua puts a throttled job at the front, others at the back.
    redis_client.lpush(keys.queue("default"), job("waiting"))
    plain = job("plain")
    redis_client.zadd(keys.SCHEDULE, {plain: 1.0})
    scripts.PROMOTE(
        redis_client,
        [keys.SCHEDULE, keys.QUEUES, keys.queue("default"), keys.queue("default")],
        [member, "default", member, plain, "default", plain],
    )
    order = [json.loads(raw)["jid"] for raw in redis_client.lrange(keys.queue("default"), 0, -1)]
    assert order == ["plain", "waiting", "r2"]  # r2 is taken next (the right end)
    assert redis_client.zcard(keys.RETRY) == 0


def test_limits_show_in_the_api_and_in_sidequest_stats(
    redis_url: str, redis_client: redis.Redis
) -> None:
    store = LimitStore(redis_client, ME)
    for n in range(3):
        hold(redis_client, ME, f"{n}:default", job(f"j{n}"))
        admit(store, f"{n}:default", job(f"j{n}"), f"{ME}|{n}", SLOT, RATE)
    states = {(state.kind, state.key): state for state in api.Limits(redis_client).all()}
    slots = states[("concurrency", "acct:1")]
    assert (slots.limit, slots.in_use, slots.parked) == (2, 2, 1)
    assert set(slots.holders) == {f"{ME}|0", f"{ME}|1"}
    rate = states[("rate", "api")]
    assert (rate.limit, rate.per, rate.in_use) == (2, 1.0, 2)
    [parked] = api.Limits(redis_client).parked_jobs("acct:1")
    assert parked.jid == "j2"
    assert api.Limits(redis_client).totals() == {
        "concurrency_keys": 1,
        "rate_keys": 1,
        "slots_held": 2,
        "parked": 1,
    }
    table = sidequest("stats", redis_url=redis_url)
    assert table.returncode == 0, table.stderr
    assert "acct:1" in table.stdout and "2/2" in table.stdout
    document = json.loads(sidequest("stats", "--json", redis_url=redis_url).stdout)
    assert {(entry["kind"], entry["key"], entry["parked"]) for entry in document["limits"]} == {
        ("concurrency", "acct:1", 1),
        ("rate", "api", 0),
    }


def test_the_prometheus_middleware_counts_refusals_and_waits() -> None:
    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(JobMetricSet(registry))
    middleware.job_limited("ChargeJob", "parked")
    middleware.job_limited("ChargeJob", "parked")
    middleware.job_limited("ChargeJob", "throttled")
    middleware.job_admitted_after_wait("ChargeJob", 0.02)
    labels = {"job_class": "ChargeJob"}
    assert registry.get_sample_value("sidequest_jobs_parked_total", labels) == 2
    assert registry.get_sample_value("sidequest_jobs_throttled_total", labels) == 1
    assert registry.get_sample_value("sidequest_limit_wait_seconds_count", labels) == 1


def test_one_call_admits_several_jobs_in_order_and_releases_first(
    redis_client: redis.Redis,
) -> None:
    store = LimitStore(redis_client, ME)
    for n in range(4):
        hold(redis_client, ME, f"{n}:default", job(f"j{n}"))
    admit(store, "0:default", job("j0"), f"{ME}|0", SLOT)
    admit(store, "1:default", job("j1"), f"{ME}|1", SLOT)
    # j0 finished: its slot is given back before j2 and j3 ask, in the same round trip.
    verdicts = store.exchange(
        [(f"{ME}|0", SLOT)],
        [
            Admission("2:default", job("j2").encode(), f"{ME}|2", [SLOT]),
            Admission("3:default", job("j3").encode(), f"{ME}|3", [SLOT]),
        ],
    )
    assert [acquired.verdict for acquired in verdicts] == [Verdict.ADMITTED, Verdict.PARKED]
    assert set(redis_client.zrange(keys.limit_slots("acct:1"), 0, -1)) == {f"{ME}|1", f"{ME}|2"}


def test_unused_keys_leave_the_index_and_come_back_when_used(redis_client: redis.Redis) -> None:
    store = LimitStore(redis_client, ME)
    hold(redis_client, ME, "0:default", job("a"))
    admit(store, "0:default", job("a"), f"{ME}|0", SLOT)
    redis_client.hset(keys.LIMITS_CONCURRENCY, "gone", "5")  # no holder, nothing parked
    redis_client.zadd(keys.limit_slots("lapsed"), {f"{OTHER}|1": 1.0})
    redis_client.hset(keys.LIMITS_CONCURRENCY, "lapsed", "1")
    redis_client.hset(keys.LIMITS_RATE, "expired", "5/1.0")  # its log expired
    cursors = store.prune((0, 0))
    while cursors != (0, 0):
        cursors = store.prune(cursors)
    assert redis_client.hgetall(keys.LIMITS_CONCURRENCY) == {"acct:1": "2"}
    assert redis_client.hgetall(keys.LIMITS_RATE) == {}
    hold(redis_client, ME, "1:default", job("b"))
    admit(store, "1:default", job("b"), f"{ME}|1", Bound("concurrency", "gone", 5, 60.0))
    assert redis_client.hget(keys.LIMITS_CONCURRENCY, "gone") == "5"
