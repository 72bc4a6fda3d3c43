"""runtime.landing.Landing: how landed jobs' outcomes are sorted, adopted and settled."""

from __future__ import annotations

import json
import threading

from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.landing import Landing
from sidequest.runtime.outcome import Ack, Failure


def raw(jid: str, **extra: object) -> bytes:
    return json.dumps({"class": "SomeJob", "jid": jid, "queue": "mail", **extra}).encode()


def landed(landing: Landing, jid: str, **extra: object) -> Fetched:
    job = Fetched("", "mail", raw(jid, **extra), Holding.LANDED)
    landing.add(job)
    return job


def test_outcomes_of_jobs_in_the_inflight_hash_are_written_by_field() -> None:
    landing = Landing(threading.Lock())
    fetched = Fetched("7:mail", "mail", raw("a"))
    ack, failure = Ack(fetched), Failure(Fetched("8:mail", "mail", raw("b")), "dead", 1.0, "")

    batch = landing.partition([ack, failure])

    assert (batch.acks, batch.failures) == ([ack], [failure])
    assert not (batch.landed_acks or batch.adopt or batch.deferred or batch.refused)


def test_a_landed_success_is_acknowledged_from_the_landing_list_and_not_adopted() -> None:
    landing = Landing(threading.Lock())
    done = landed(landing, "done")
    running = landed(landing, "running")
    ack = Ack(done)

    batch = landing.partition([ack])

    assert batch.landed_acks == [ack]
    assert batch.adopt == [running]
    assert not (batch.acks or batch.deferred)


def test_other_outcomes_of_landed_jobs_wait_until_the_job_is_adopted() -> None:
    landing = Landing(threading.Lock())
    failed, unique = landed(landing, "failed"), landed(landing, "unique")
    outcomes = [Failure(failed, "retry", 2.0, "{}"), Ack(unique, "unique", "digest")]

    batch = landing.partition(outcomes)

    assert batch.deferred == outcomes
    assert batch.adopt == [failed, unique]
    assert not (batch.acks or batch.failures or batch.landed_acks)


def test_settling_gives_adopted_jobs_their_field_and_marks_recovered_ones_gone() -> None:
    landing = Landing(threading.Lock())
    kept, taken = landed(landing, "kept"), landed(landing, "taken")
    batch = landing.partition([])

    assert landing.settle(batch, ["12:mail", ""]) == [kept]

    assert (kept.state, kept.field) == (Holding.ADOPTED, "12:mail")
    assert (taken.state, taken.field) == (Holding.GONE, "")
    assert landing.partition([]).adopt == []


def test_outcomes_of_gone_jobs_are_refused_without_a_write() -> None:
    landing = Landing(threading.Lock())
    gone = Fetched("", "mail", raw("gone"), Holding.GONE)

    batch = landing.partition([Ack(gone), Failure(gone, "dead", 1.0, "")])

    assert batch.refused == 2
    assert not (batch.acks or batch.failures or batch.landed_acks or batch.deferred)


def test_an_adopted_recovered_job_is_acknowledged_with_its_start_marker() -> None:
    landing = Landing(threading.Lock())
    recovered, plain = landed(landing, "r", recoveries=1), landed(landing, "p")
    landing.settle(landing.partition([]), ["1:mail", "2:mail"])
    acks = [Ack(recovered), Ack(plain)]

    batch = landing.partition(acks)

    assert batch.acks == acks
    assert [ack.marked for ack in acks] == [True, False]


def test_withdrawn_jobs_are_no_longer_adopted() -> None:
    landing = Landing(threading.Lock())
    withdrawn, kept = landed(landing, "w"), landed(landing, "k")

    landing.withdraw([withdrawn])

    assert landing.partition([]).adopt == [kept]


def test_a_payload_nobody_here_knows_runs_at_the_second_look() -> None:
    landing = Landing(threading.Lock())
    known = landed(landing, "known")
    stray = raw("stray")

    assert landing.stranded([known.raw, stray]) == []
    assert landing.has_suspects()
    [job] = landing.stranded([known.raw, stray])

    assert (job.field, job.queue, job.raw, job.state) == ("", "mail", stray, Holding.LANDED)
    assert not landing.has_suspects()


def test_a_suspect_the_process_hears_of_before_the_second_look_is_not_run() -> None:
    landing = Landing(threading.Lock())
    late = Fetched("", "mail", raw("late"), Holding.LANDED)

    assert landing.stranded([late.raw]) == []
    landing.add(late)  # the waiter's report arrived after the first look

    assert landing.stranded([late.raw]) == []
    assert not landing.has_suspects()
