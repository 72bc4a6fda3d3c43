"""Pins a worker process to chosen CPUs (the `cpus` setting), as `taskset -c` would.

Why: a worker's threads hand the GIL to each other at every system call. Left to roam,
the kernel wakes the next thread on another core each time, and those cross-core
wake-ups cost more than the jobs: a process draining no-op jobs on one core runs about
twice as many per second as the same process spread over two (bench/README.md). The
price is the parallelism of C code that releases the GIL (compression, numpy), which
then shares the same core, and two processes pinned to one CPU share it. The default,
`cpus: auto` (runtime/cpu_claims.py), gives each worker process a CPU of its own only
while the host's worker processes fit; an explicit list is pinned here as given.

Tasks (the setting itself is read by sidequest.config.parse_cpus):
1. refuse CPUs this process may not use, naming the ones it may
2. pin every thread of the process (threads started later inherit it)
"""

from __future__ import annotations

import contextlib
import os

from sidequest.errors import ConfigError


def pin(cpus: tuple[int, ...]) -> None:
    """Run this process, every thread of it, on `cpus` only; nothing when empty."""
    if not cpus:
        return
    if not hasattr(os, "sched_setaffinity"):
        raise ConfigError("cpus: this platform cannot pin a process to CPUs")
    allowed = os.sched_getaffinity(0)
    refused = sorted(set(cpus) - allowed)
    if refused:
        raise ConfigError(
            f"cpus: this process may not run on CPU {', '.join(map(str, refused))} "
            f"(it may use {_ranges(sorted(allowed))})"
        )
    try:
        run_on(cpus)
    except OSError as error:
        # A cpuset changed under us, or a seccomp/container policy forbids the call.
        reason = error.strerror or error
        raise ConfigError(f"cpus: cannot pin this process to {cpus}: {reason}") from None


def run_on(cpus: tuple[int, ...]) -> None:
    """Set the CPUs of every thread of this process, unchecked (OSError when refused)."""
    for thread in _thread_ids():
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(thread, cpus)


def _thread_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # no /proc: the calling thread; threads started later inherit it


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5", taskset's notation."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ",".join(f"{low}-{high}" if high > low else str(low) for low, high in spans)
