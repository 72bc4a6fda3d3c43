"""The chaos run's judge must catch what it is there to catch: a lost job (also one whose
only completion Redis refused), a final outcome accepted twice, an unexplained
duplicate, a job started early; and the ledger must read from an AOF what Redis
accepted. Pure: no Redis, no processes."""

from __future__ import annotations

from collections import Counter

from tests.chaos import ledger, plan
from tests.chaos.analysis import Execution, Fault, Job, Verdict, judge, parse_events
from tests.chaos.config import ChaosConfig, from_environment


def _judge(
    jobs: list[Job],
    runs: list[Execution],
    faults: list[Fault],
    accepted: dict[tuple[int, str, str], int],
) -> Verdict:
    return judge(jobs, runs, faults, lambda pid, jid, kind: accepted.get((pid, jid, kind), 0))


def test_a_job_without_an_accepted_completion_is_lost() -> None:
    verdict = _judge([Job("a", "ok")], [Execution("a", "t1", 10, 100.0, None, None)], [], {})
    assert verdict.lost == ["a"]
    doomed = [Execution("d", "t1", 10, 100.0, 101.0, "ok")]
    assert _judge([Job("d", "doomed")], doomed, [], {(10, "d", "ok"): 1}).lost == ["d"]
    # It completed, but Redis refused the outcome (fenced): not a completion.
    refused = [Execution("a", "t1", 10, 100.0, 101.0, "ok")]
    freeze = [Fault("freeze", 10, 100.5, 110.0, frozenset({"a"}))]
    verdict = _judge([Job("a", "ok")], refused, freeze, {})
    assert verdict.lost == ["a"] and verdict.refused_only == ["a"] and not verdict.unexplained


def test_a_recovery_that_dropped_the_recovered_copy_is_caught() -> None:
    # The frozen process finished its copy late; the copy recovered elsewhere ran and
    # was accepted. Had recovery dropped it, only the refused late copy would be left.
    late = Execution("a", "t1", 10, 100.0, 120.0, "ok")
    recovered = Execution("a", "t2", 11, 105.0, 106.0, "ok")
    freeze = [Fault("freeze", 10, 100.5, 119.0, frozenset({"a"}))]
    good = _judge([Job("a", "ok")], [late, recovered], freeze, {(11, "a", "ok"): 1})
    assert good.ok and good.duplicates == 1 and good.causes == {"freeze": 1}
    dropped = _judge([Job("a", "ok")], [late], freeze, {})
    assert dropped.lost == ["a"]


def test_a_wasted_run_needs_a_fault_on_the_process_that_held_the_job() -> None:
    first = Execution("a", "t1", 10, 100.0, None, None)
    second = Execution("a", "t2", 11, 130.0, 131.0, "ok")
    job, accepted = [Job("a", "ok")], {(11, "a", "ok"): 1}
    assert _judge(job, [first, second], [], accepted).unexplained == {"a": [first, second]}
    elsewhere = [Fault("kill", 12, 100.5, 100.5, frozenset({"a"}))]
    assert _judge(job, [first, second], elsewhere, accepted).unexplained
    not_holding = [Fault("kill", 10, 100.5, 100.5, frozenset({"b"}))]
    assert _judge(job, [first, second], not_holding, accepted).unexplained
    killed = [Fault("kill", 10, 100.5, 100.5, frozenset({"a"}))]
    verdict = _judge(job, [first, second], killed, accepted)
    assert verdict.ok and verdict.duplicates == 1 and verdict.causes == {"kill": 1}
    # The Redis crash hits every process: it explains the jobs whose writes it dropped.
    crash = [Fault("redis-crash", None, 100.5, 105.0, frozenset({"a"}))]
    assert _judge(job, [first, second], crash, accepted).ok


def test_a_final_outcome_accepted_twice_or_without_a_run_is_caught() -> None:
    runs = [
        Execution("a", "t1", 10, 100.0, 101.0, "ok"),
        Execution("a", "t2", 11, 102.0, 103.0, "ok"),
    ]
    twice = _judge([Job("a", "ok")], runs, [], {(10, "a", "ok"): 1, (11, "a", "ok"): 1})
    assert twice.twice == ["a"] and not twice.ok
    phantom = _judge([Job("a", "ok")], runs[:1], [], {(10, "a", "ok"): 2})
    assert phantom.phantoms == [(10, "a", "ok")] and not phantom.ok


def test_a_flaky_job_needs_its_failure_and_its_success_accepted() -> None:
    runs = [
        Execution("f", "t1", 10, 100.0, 100.1, "fail"),
        Execution("f", "t2", 10, 102.0, 102.1, "ok"),
    ]
    both = {(10, "f", "fail"): 1, (10, "f", "ok"): 1}
    assert _judge([Job("f", "flaky")], runs, [], both).ok
    refused_failure = _judge([Job("f", "flaky")], runs, [], {(10, "f", "ok"): 1})
    assert refused_failure.unexplained  # a failure refused with no fault behind it


def test_a_scheduled_job_may_not_start_early() -> None:
    runs = [Execution("s", "t1", 10, 199.0, 199.5, "ok")]
    early = _judge([Job("s", "ok", due=200.0)], runs, [], {(10, "s", "ok"): 1})
    assert early.early == ["s"]


def test_events_pair_starts_and_ends_by_token() -> None:
    runs = parse_events([b"s a t1 10 100.5", b"s a t2 11 101.0", b"e a t1 10 100.75 ok"])
    by_token = {run.token: run for run in runs}
    assert by_token["t1"].end == 100.75 and by_token["t1"].outcome == "ok"
    assert by_token["t2"].end is None


def _resp(*args: str | bytes) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        value = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(parts)


def _multi(*commands: bytes) -> bytes:
    return _resp("MULTI") + b"".join(commands) + _resp("EXEC")


A = b'{"class":"ChaosJob","args":[],"jid":"a"}'
B = b'{"class":"ChaosJob","args":[],"jid":"b"}'
HASH_10 = "sidequest:inflight:host:10:n1"
HASH_11 = "sidequest:inflight:host:11:n2"
LANDING_11 = "sidequest:landing:host:11:n2"


def test_the_ledger_counts_only_the_outcomes_redis_applied() -> None:
    aof = b"".join(
        [
            _resp("SELECT", "0"),
            _resp("LPUSH", "queue:default", A, B),
            # Process 10 fetches both; recovery gives them back after it died.
            _resp("RPOP", "queue:default", "2"),
            _resp("HSET", HASH_10, "1:default", A, "2:default", B),
            _multi(
                _resp("HDEL", HASH_10, "1:default"),
                _resp("RPUSH", "queue:default", A),
                _resp("HDEL", HASH_10, "2:default"),
                _resp("RPUSH", "queue:default", B),
            ),
            # Process 11 lands one (BLMOVE), adopts it, and fetches the other.
            _resp("LMOVE", "queue:default", LANDING_11, "RIGHT", "LEFT"),
            _multi(
                _resp("LREM", LANDING_11, "1", A),
                _resp("RPOP", "queue:default", "1"),
                _resp("HSET", HASH_11, "5:default", A, "6:default", B),
            ),
            # It acknowledges A; process 10 comes back and its ack of B is refused, so
            # Redis wrote nothing for it; then 11 fails B into the dead set.
            _multi(_resp("HDEL", HASH_11, "5:default"), _resp("INCRBY", "stat:processed", "1")),
            _multi(
                _resp("HDEL", HASH_11, "6:default"),
                _resp("ZADD", "dead", "1.0", B),
                _resp("INCR", "stat:processed"),
                _resp("INCR", "stat:failed"),
            ),
        ]
    )
    read = ledger.read(aof)
    assert read.outcomes == {(11, "a"): Counter({"ok": 1}), (11, "b"): Counter({"fail": 1})}
    assert read.accepted(10, "a", "ok") == 0 and read.accepted(11, "a", "ok") == 1
    assert read.taken_back == Counter({(10, "a"): 1, (10, "b"): 1})
    # A cut in the middle of a transaction drops the transaction, as Redis does.
    cut = len(aof) - 20
    kept = ledger.complete_prefix(aof[:cut])
    assert aof[:kept].endswith(_resp("INCRBY", "stat:processed", "1") + _resp("EXEC"))
    at_cut = ledger.read(aof[:kept]).state
    assert ledger.touched(aof[kept:], at_cut) == {"b"}


def test_the_fault_schedule_and_job_mix_follow_the_seed() -> None:
    config = ChaosConfig(seed=8, jobs=300, duration=20.0)
    assert plan.faults(config) == plan.faults(config)
    assert plan.jobs(config) == plan.jobs(config)
    other = ChaosConfig(seed=9, jobs=300, duration=20.0)
    assert plan.faults(other) != plan.faults(config)
    every_kind = {"kill", "term", "freeze", "stall", "reset", "redis-crash"}
    for seed in range(1, 200):
        seeded = ChaosConfig(seed=seed, jobs=300, duration=20.0)
        assert {fault.kind for fault in plan.faults(seeded)} == every_kind, seed
        assert all(0 < fault.at < seeded.duration for fault in plan.faults(seeded))


def test_the_environment_picks_the_long_profile_and_overrides() -> None:
    config = from_environment({"CHAOS_PROFILE": "long", "CHAOS_SEED": "3", "CHAOS_JOBS": "500"})
    assert (config.jobs, config.seed, config.duration) == (500, 3, 240.0)
    assert from_environment({}).jobs == 2000


def test_each_run_without_a_seed_draws_its_own() -> None:
    seeds = {from_environment({}).seed for _ in range(20)}
    assert len(seeds) > 1 and all(seed > 0 for seed in seeds)


def test_two_jobs_whose_executions_drew_the_same_token_stay_apart() -> None:
    runs = parse_events(["s a t1 7 1.0", "e a t1 7 1.5 fail", "s b t1 7 2.0", "e b t1 7 2.5 ok"])
    assert [(run.jid, run.start, run.end, run.outcome) for run in runs] == [
        ("a", 1.0, 1.5, "fail"),
        ("b", 2.0, 2.5, "ok"),
    ]
