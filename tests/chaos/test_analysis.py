"""The chaos run's judge must catch what it is there to catch: a lost job, an
unexplained duplicate, a job started early. Pure: no Redis, no processes."""

from __future__ import annotations

from tests.chaos import plan
from tests.chaos.analysis import Execution, Fault, Job, Verdict, judge, parse_events
from tests.chaos.config import ChaosConfig, from_environment


def _judge(jobs: list[Job], runs: list[Execution], faults: list[Fault]) -> Verdict:
    return judge(jobs, runs, faults, ack_slack=1.0, start_slack=2.0)


def test_a_job_without_a_completed_run_is_lost() -> None:
    verdict = _judge([Job("a", "ok")], [Execution("a", "t1", 10, 100.0, None, None)], [])
    assert verdict.lost == ["a"]
    verdict = _judge([Job("d", "doomed")], [Execution("d", "t1", 10, 100.0, 101.0, "ok")], [])
    assert verdict.lost == ["d"]  # a doomed job completes by failing


def test_a_second_run_needs_a_fault_on_the_process_that_ran_the_first() -> None:
    first = Execution("a", "t1", 10, 100.0, None, None)
    second = Execution("a", "t2", 11, 130.0, 131.0, "ok")
    job = [Job("a", "ok")]
    assert _judge(job, [first, second], []).unexplained == {"a": [first, second]}
    elsewhere = [Fault("kill", 12, 100.5, 100.5)]
    assert _judge(job, [first, second], elsewhere).unexplained
    killed = _judge(job, [first, second], [Fault("kill", 10, 100.5, 100.5)])
    assert killed.ok and killed.duplicates == 1 and killed.causes == {"kill": 1}


def test_a_fault_long_after_a_run_ended_explains_nothing() -> None:
    first = Execution("a", "t1", 10, 100.0, 101.0, "ok")
    second = Execution("a", "t2", 11, 130.0, 131.0, "ok")
    late = [Fault("kill", 10, 110.0, 110.0)]
    assert _judge([Job("a", "ok")], [first, second], late).unexplained
    redis_crash = [Fault("redis-crash", None, 100.5, 105.0)]
    assert _judge([Job("a", "ok")], [first, second], redis_crash).ok


def test_a_job_that_fails_once_needs_two_runs_and_a_scheduled_job_may_not_start_early() -> None:
    runs = [
        Execution("f", "t1", 10, 100.0, 100.1, "fail"),
        Execution("f", "t2", 10, 102.0, 102.1, "ok"),
    ]
    assert _judge([Job("f", "flaky")], runs, []).ok
    early = _judge([Job("s", "ok", due=200.0)], [Execution("s", "t1", 10, 199.0, 199.5, "ok")], [])
    assert early.early == ["s"]


def test_events_pair_starts_and_ends_by_token() -> None:
    runs = parse_events([b"s a t1 10 100.5", b"s a t2 11 101.0", b"e a t1 10 100.75 ok"])
    by_token = {run.token: run for run in runs}
    assert by_token["t1"].end == 100.75 and by_token["t1"].outcome == "ok"
    assert by_token["t2"].end is None


def test_the_fault_schedule_and_job_mix_follow_the_seed() -> None:
    config = ChaosConfig(jobs=300, duration=20.0)
    assert plan.faults(config) == plan.faults(config)
    assert plan.jobs(config) == plan.jobs(config)
    other = ChaosConfig(seed=9, jobs=300, duration=20.0)
    assert plan.faults(other) != plan.faults(config)
    kinds = {fault.kind for fault in plan.faults(config)}
    assert kinds == {"kill", "term", "freeze", "stall", "reset", "redis-crash"}
    assert all(0 < fault.at < config.duration for fault in plan.faults(config))


def test_the_environment_picks_the_long_profile_and_overrides() -> None:
    config = from_environment({"CHAOS_PROFILE": "long", "CHAOS_SEED": "3", "CHAOS_JOBS": "500"})
    assert (config.jobs, config.seed, config.duration) == (500, 3, 240.0)
    assert from_environment({}).jobs == 2000
