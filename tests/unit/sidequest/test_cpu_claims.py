"""`cpus: auto`: processes share out CPUs through lock files (runtime/cpu_claims.py).

Separate CpuClaims objects in one process behave as separate processes would: each
opens its own files, and flock conflicts between open files, not between processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sidequest.runtime import cpu_claims
from sidequest.runtime.cpu_claims import AutoPin, CpuClaims


def test_processes_claim_distinct_cpus_the_last_first(tmp_path: Path) -> None:
    first, second = CpuClaims(tmp_path, [0, 1]), CpuClaims(tmp_path, [0, 1])
    assert first.claim() == 1
    assert second.claim() == 0
    assert first.claim() == 1  # a claim is kept, not taken again
    assert not first.others_waiting()


def test_a_process_finding_every_cpu_taken_waits_and_the_others_see_it(tmp_path: Path) -> None:
    first, second, third = (CpuClaims(tmp_path, [0, 1]) for _ in range(3))
    first.claim()
    second.claim()
    assert third.claim() is None
    assert first.others_waiting() and second.others_waiting()
    assert not third.others_waiting()  # its own waiting file does not count

    second.release()  # the process ended: its CPU is free again
    assert third.claim() == 0
    assert not first.others_waiting()


def test_a_dead_waiters_file_is_not_taken_for_a_live_one(tmp_path: Path) -> None:
    first = CpuClaims(tmp_path, [0])
    first.claim()
    (tmp_path / "waiting-99999-deadbeef.lock").touch()  # left by a process killed -9
    assert not first.others_waiting()
    assert not (tmp_path / "waiting-99999-deadbeef.lock").exists()


def _pinned_to(auto: AutoPin) -> int | None:
    return auto.pinned_to


def _auto(tmp_path: Path, pins: list[tuple[int, ...]]) -> AutoPin:
    return AutoPin(CpuClaims(tmp_path, [0, 1]), [0, 1], pin=pins.append)


def test_auto_pins_while_the_processes_fit_and_unpins_while_one_waits(tmp_path: Path) -> None:
    pins_a: list[tuple[int, ...]] = []
    pins_b: list[tuple[int, ...]] = []
    a, b = _auto(tmp_path, pins_a), _auto(tmp_path, pins_b)
    a.check()
    b.check()
    assert (a.pinned_to, b.pinned_to) == (1, 0)
    assert pins_a == [(1,)] and pins_b == [(0,)]

    c = _auto(tmp_path, [])
    c.check()  # a third process on two CPUs: it waits, unpinned
    assert c.pinned_to is None
    a.check()
    assert a.pinned_to is None and pins_a == [(1,), (0, 1)]

    c.stop()  # it ended: a takes its core back at its next look
    a.check()
    assert _pinned_to(a) == 1 and pins_a == [(1,), (0, 1), (1,)]
    a.check()
    assert len(pins_a) == 3  # no change, no call


def test_auto_does_not_pin_a_process_that_may_use_one_cpu() -> None:
    assert cpu_claims.why_not_auto([3], directory_chosen=False) is not None


def test_auto_pins_in_a_container_only_with_a_shared_claims_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cpu_claims, "in_container", lambda: True)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    # Even a cpuset narrower than the host's proves nothing: replicas may share it.
    reason = cpu_claims.why_not_auto([0, 1], directory_chosen=False)
    assert reason is not None and "cpu_claims" in reason
    assert cpu_claims.why_not_auto([0, 1], directory_chosen=True) is None
    monkeypatch.setattr(cpu_claims, "in_container", lambda: False)
    assert cpu_claims.why_not_auto([0, 1], directory_chosen=False) is None
