"""Pure parts of batches: what a payload says about its batch and chain (runtime/links.py),
how the fetcher sorts linked acknowledgements (landing.py), and reading a batch's hash."""

from __future__ import annotations

import json
import threading

from sidequest.batches.status import BatchStatus
from sidequest.runtime import links
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.landing import Landing
from sidequest.runtime.outcome import Ack, Link


def test_a_job_in_no_batch_and_no_chain_has_no_link() -> None:
    assert links.link_of({"class": "A", "jid": "j1", "args": []}, 5.0) is None
    assert links.link_of({"class": "A", "jid": "j1", "bid": 7}, 5.0) is None  # not ours


def test_a_batch_member_links_to_its_batch() -> None:
    assert links.link_of({"jid": "j1", "bid": "b1"}, 5.0) == Link("b1", "j1")


def test_a_chain_step_carries_the_next_one_with_the_rest_of_the_chain_and_the_bid() -> None:
    second = {"class": "B", "jid": "j2", "queue": "q", "args": [1]}
    third = {"class": "C", "jid": "j3", "queue": "q", "args": [2]}
    link = links.link_of({"jid": "j1", "bid": "b1", "chain": [second, third]}, 5.0)

    assert link is not None
    assert (link.bid, link.jid, link.next_queue, link.next_jid) == ("b1", "j1", "q", "j2")
    pushed = json.loads(link.next_payload)
    assert pushed == {**second, "chain": [third], "bid": "b1", "enqueued_at": 5.0}


def test_the_last_step_of_a_chain_outside_a_batch_pushes_nothing_more() -> None:
    link = links.link_of({"jid": "j2", "chain": [{"class": "C", "jid": "j3", "args": []}]}, 5.0)
    assert link is not None and link.bid == "" and link.next_queue == "default"
    assert "chain" not in json.loads(link.next_payload)


def test_member_of_raw_reads_bid_and_jid_and_tolerates_garbage() -> None:
    job = {"class": "A", "args": [], "jid": "j1", "queue": "q"}
    assert links.member_of_raw(json.dumps({**job, "bid": "b1"}).encode()) == ("b1", "j1")
    assert links.member_of_raw(json.dumps(job)) == ("", "")
    assert links.member_of_raw(b'not json "bid"') == ("", "")


def test_linked_acknowledgements_are_sorted_apart_held_or_landed() -> None:
    landing = Landing(threading.Lock())
    fetched = Ack(Fetched("7:q", "q", b"{}"), "j1", link=Link("b", "j1"))
    plain = Ack(Fetched("8:q", "q", b"{}"), "j2")
    job = Fetched("", "q", b'{"jid":"j3"}', Holding.LANDED)
    landing.add(job)
    landed = Ack(job, "j3", link=Link("b", "j3"))

    batch = landing.partition([fetched, plain, landed])

    assert batch.linked == [fetched, landed]
    assert batch.acks == [plain] and batch.landed_acks == []
    assert batch.adopt == []  # acknowledged from the landing list, not adopted


def test_a_batch_hash_reads_into_a_status_with_its_callbacks() -> None:
    raw = {
        "description": "statements",
        "total": "3",
        "succeeded": "1",
        "dead": "1",
        "created_at": "100.5",
        "done_at": "",
        "parent": "",
        "cb:death": '{"class":"AlertJob","args":["x"],"jid":"c1","queue":"ops"',
        "cbq:death": "ops",
        "fired:death": "101.0",
        "cb:success": "{broken",
    }
    status = BatchStatus.from_hash("b1", raw, pending=1, failed=1)

    assert (status.total, status.pending, status.succeeded, status.failed, status.dead) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert not status.complete and status.parent is None
    assert status.progress == 2 / 3
    death = next(callback for callback in status.callbacks if callback.event == "death")
    assert (death.job_class, death.args, death.queue, death.fired_at) == (
        "AlertJob",
        ["x"],
        "ops",
        101.0,
    )
    assert status.fired("success") is None  # configured (unreadable), not fired
