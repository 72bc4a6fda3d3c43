"""Pinning refuses what it cannot do with a ConfigError (exit 78), never a traceback."""

from __future__ import annotations

import os

import pytest

from sidequest import ConfigError
from sidequest.runtime import affinity


def test_no_cpus_leaves_the_process_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(pid: int, cpus: object) -> None:
        raise AssertionError("pinned although no cpus were asked for")

    monkeypatch.setattr(os, "sched_setaffinity", forbidden)
    affinity.pin(())


def test_a_cpu_outside_the_allowed_set_is_refused_naming_the_allowed_ones() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    with pytest.raises(ConfigError, match=r"may not run on CPU 65535 \(it may use "):
        affinity.pin((65535,))
    assert sorted(os.sched_getaffinity(0)) == allowed


def test_a_refused_pinning_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # As a container whose seccomp policy forbids sched_setaffinity would answer.
    def refuse(pid: int, cpus: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    cpu = min(os.sched_getaffinity(0))
    refused = r"cannot pin this process to .*: Operation not permitted"
    with pytest.raises(ConfigError, match=refused):
        affinity.pin((cpu,))
