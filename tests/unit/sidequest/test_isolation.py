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


def test_a_suspect_waits_for_running_jobs_and_holds_back_new_ones() -> None:
    gate = Isolation()
    first_in, first_out = threading.Event(), threading.Event()
    _in_thread(gate, False, first_in, first_out)
    assert first_in.wait(5)

    suspect_in, suspect_out = threading.Event(), threading.Event()
    _in_thread(gate, True, suspect_in, suspect_out)
    later_in, later_out = threading.Event(), threading.Event()
    _in_thread(gate, False, later_in, later_out)
    assert not suspect_in.wait(0.2), "the suspect started beside a running job"
    assert not later_in.is_set(), "a new job started while a suspect waited"

    first_out.set()
    assert suspect_in.wait(5)
    assert not later_in.wait(0.2), "a job started beside the suspect"
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
