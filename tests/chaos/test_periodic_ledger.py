"""periodic_ledger.py on AOF blocks written here: it reads each claim's settled ticks,
pushes and counts, and its verdict catches every way a tick can go wrong."""

from __future__ import annotations

import json

from tests.chaos import periodic_ledger
from tests.chaos.periodic_ledger import Run, judge, replay

NAME = "p0000"
STATE = f"sidequest:periodic:state:{NAME}"


def resp(*args: str) -> bytes:
    out = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        out += f"${len(data)}\r\n".encode() + data + b"\r\n"
    return out


def payload(tick: int, jid: str) -> str:
    return json.dumps({"class": "J", "jid": jid, "periodic": NAME, "periodic_at": tick})


def published(watermark: int) -> bytes:
    return (
        resp("MULTI")
        + resp("HSET", "sidequest:periodic:schedules", NAME, "{}")
        + resp("HSET", STATE, "watermark", str(watermark))
        + resp("EXEC")
    )


def claim(watermark: int, pushes: dict[int, str], missed: int = 0, dropped: int = 0) -> bytes:
    block = resp("MULTI") + resp("SADD", "queues", "default")
    for tick, jid in pushes.items():
        block += resp("LPUSH", "queue:default", payload(tick, jid))
    block += resp("HSET", STATE, "watermark", str(watermark))
    if missed:
        block += resp("HINCRBY", STATE, "missed", str(missed))
    if dropped:
        block += resp("HINCRBY", STATE, "dropped", str(dropped))
    return block + resp("EXEC")


def ran(*pairs: tuple[int, str]) -> list[Run]:
    return [Run(NAME, tick, jid, 1, float(tick)) for tick, jid in pairs]


# Ticks 101-102 on time, then 103-104 missed and dropped (skip), 105 on time.
HISTORY = published(100) + claim(102, {101: "a", 102: "b"}) + claim(105, {105: "e"}, 2, 2)
RUNS = ran((101, "a"), (102, "b"), (105, "e"))
SKIP = {NAME: ("skip", 10)}


def test_replay_follows_each_schedule_s_watermark_from_its_publish() -> None:
    found = replay(HISTORY)
    assert [(c.before, c.after, dict(c.pushed), c.missed, c.dropped) for c in found.claims] == [
        (100, 102, {101: "a", 102: "b"}, 0, 0),
        (102, 105, {105: "e"}, 2, 2),
    ]
    assert found.marks == {NAME: 105}


def test_every_tick_pushed_and_run_or_counted_as_dropped_passes() -> None:
    verdict = judge(replay(HISTORY), set(), RUNS, (100, 105), SKIP)
    assert verdict.ok
    assert (verdict.ticks, verdict.enqueued, verdict.dropped, verdict.missed) == (5, 3, 2, 2)


def test_a_tick_settled_without_a_push_or_a_count_is_unaccounted() -> None:
    silent = published(100) + claim(102, {101: "a", 102: "b"}) + claim(105, {105: "e"}, 2, 1)
    verdict = judge(replay(silent), set(), RUNS, (100, 105), {NAME: ("one", 10)})
    assert [(c.before, c.after) for c in verdict.unaccounted] == [(102, 105)]


def test_a_claim_that_runs_more_missed_ticks_than_its_policy_is_off_policy() -> None:
    verdict = judge(replay(HISTORY), set(), RUNS, (100, 105), {NAME: ("one", 10)})
    assert [(c.before, c.after) for c in verdict.off_policy] == [(102, 105)]


def test_a_pushed_tick_that_never_ran_is_lost_and_one_never_settled_is_found() -> None:
    verdict = judge(replay(HISTORY), set(), ran((101, "a"), (105, "e")), (100, 106), SKIP)
    assert verdict.lost == [(NAME, 102)]
    assert verdict.unsettled == [(NAME, 106)]


def test_a_tick_run_under_two_jids_is_duplicated_unless_the_crash_lost_the_first_claim() -> None:
    twice = [*RUNS, *ran((102, "x"))]
    assert judge(replay(HISTORY), set(), twice, (100, 105), SKIP).duplicated == [(NAME, 102)]
    lost = {(NAME, 102, "x")}
    verdict = judge(replay(HISTORY), lost, twice, (100, 105), SKIP)
    assert (verdict.duplicated, verdict.crash_duplicates) == ([], 1)
    assert judge(replay(HISTORY), set(), [*RUNS, *ran((103, "y"))], (100, 105), SKIP).strangers


def test_the_lost_tail_is_read_from_the_watermarks_at_the_cut() -> None:
    at_cut = replay(HISTORY)
    tail = replay(claim(106, {106: "f"}), at_cut.marks)
    assert tail.pushes == {(NAME, 106, "f")}
    assert periodic_ledger.caught_up_allowed("all", 3, 5) == 3


def test_a_publish_that_adds_a_schedule_again_restarts_it_and_settles_no_tick() -> None:
    again = HISTORY + published(108) + claim(109, {109: "i"})
    found = replay(again)
    assert found.restarts == [(NAME, 105, 108)]
    assert [(c.before, c.after) for c in found.claims][-1] == (108, 109)
    verdict = judge(found, set(), [*RUNS, *ran((109, "i"))], (100, 109), SKIP)
    assert verdict.unaccounted == []
    assert verdict.unsettled == [(NAME, 106), (NAME, 107), (NAME, 108)]
