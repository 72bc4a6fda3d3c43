"""The gate that runs alone a job one more recovery would bury."""

from __future__ import annotations

import threading

from sidequest.runtime.isolation import Isolation, recoveries, runs_alone
from tests.support.polling import wait_for


def _in_thread(
    gate: Isolation, alone: bool, inside: threading.Event, out: threading.Event
) -> threading.Thread:
    def run() -> None:
        gate.enter(alone=alone)
        inside.set()
        out.wait(5)
        gate.leave()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _parked(gate: Isolation) -> int:
    """Threads blocked at the gate: waiting on its condition until a leave() notifies them.

    A thread is counted from the moment it registered as a waiter (holding the
    condition's lock, just before releasing it), so once the count includes it, it can
    only get in through a notification: a test may then act, knowing the order.
    """
    conditions = [value for value in vars(gate).values() if isinstance(value, threading.Condition)]
    assert len(conditions) == 1, "the gate is expected to keep one threading.Condition"
    return len(conditions[0]._waiters)  # type: ignore[attr-defined]


def _blocked(gate: Isolation, inside: threading.Event, parked: int, who: str) -> None:
    """Wait until `parked` threads are blocked at the gate, and check `who` is not inside."""
    wait_for(
        lambda: inside.is_set() or _parked(gate) == parked,
        timeout=5,
        message=f"{who} to block at the gate",
    )
    assert not inside.is_set(), f"{who} got through the gate"


def test_a_suspect_waits_for_running_jobs_and_holds_back_new_ones() -> None:
    gate = Isolation()
    first_in, first_out = threading.Event(), threading.Event()
    _in_thread(gate, False, first_in, first_out)
    assert first_in.wait(5)

    # The suspect must be waiting before the later job arrives: started together, the
    # later one could reach the gate first and rightly go in beside the first job.
    suspect_in, suspect_out = threading.Event(), threading.Event()
    _in_thread(gate, True, suspect_in, suspect_out)
    _blocked(gate, suspect_in, 1, "the suspect, beside a running job,")
    later_in, later_out = threading.Event(), threading.Event()
    _in_thread(gate, False, later_in, later_out)
    _blocked(gate, later_in, 2, "a new job, while a suspect waited,")

    # The first job leaves and wakes both: the suspect goes in, the later job must
    # block again (a fresh wait: the notification emptied the waiters).
    first_out.set()
    assert suspect_in.wait(5)
    _blocked(gate, later_in, 1, "a new job, beside the suspect,")
    suspect_out.set()
    assert later_in.wait(5)
    later_out.set()


def test_ordinary_jobs_share_the_gate() -> None:
    gate = Isolation()
    events = [(threading.Event(), threading.Event()) for _ in range(4)]
    for inside, out in events:
        _in_thread(gate, False, inside, out)
    wait_for(lambda: all(inside.is_set() for inside, _ in events), timeout=5)
    for _, out in events:
        out.set()


def test_the_gate_of_an_abandoned_thread_is_given_back_once() -> None:
    gate = Isolation()
    stuck_in, never = threading.Event(), threading.Event()
    stuck = _in_thread(gate, False, stuck_in, never)
    assert stuck_in.wait(5)
    assert stuck.ident is not None
    gate.leave(stuck.ident)  # the watchdog abandons it
    gate.leave(stuck.ident)

    suspect_in, suspect_out = threading.Event(), threading.Event()
    _in_thread(gate, True, suspect_in, suspect_out)
    assert suspect_in.wait(5)
    suspect_out.set()
    never.set()  # the abandoned thread returns at last; its leave() changes nothing
    stuck.join(5)
    again_in, again_out = threading.Event(), threading.Event()
    _in_thread(gate, True, again_in, again_out)
    assert again_in.wait(5)
    again_out.set()


def test_a_job_runs_alone_once_one_more_recovery_would_bury_it() -> None:
    assert recoveries(b'{"class":"A","args":[],"recoveries":12}') == 12
    assert recoveries(b'{"class":"A","args":[]}') == 0
    assert recoveries(b'{"class":"A","args":[],"recoveries":"x"}') == 0
    assert not runs_alone(b'{"class":"A","args":[],"recoveries":2}', 3)
    assert runs_alone(b'{"class":"A","args":[],"recoveries":3}', 3)
    assert runs_alone(b'{"class":"A","args":[],"recoveries":1}', 0)
    assert not runs_alone(b'{"class":"A","args":[]}', 0)
