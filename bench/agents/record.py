"""What every benchmark job ends with: append one fixed-size record to a file.

A record is 16 bytes, ``<qd``: the job's integer argument and the wall-clock
time (``time.time()``) at which the job body started. The Ruby side
(``sidekiq_jobs.rb``) writes the same layout.

Why a file and not a Redis counter: the harness must see completion in the
same way for every system without adding work that differs between them. One
``write(2)`` to an ``O_APPEND`` file costs about a microsecond, adds no Redis
command (so ``INFO commandstats`` counts only the system's own traffic), works
across threads, forked children (RQ) and processes, and appends of this size
are atomic, so concurrent writers never interleave. The file size divided by
16 is the number of jobs that ran; the timestamps give start latency and
lateness without any clock other than the machine's own.

The file is opened lazily, because client processes import the jobs modules
too (to name the task) and have no record file.
"""

from __future__ import annotations

import os
import struct
import time

RECORD = struct.Struct("<qd")
ENV_VAR = "BENCH_RECORD"

_fd: int | None = None


def record(n: int, started: float | None = None) -> None:
    """Append (n, started) to the file named by $BENCH_RECORD; started defaults to now.

    A job with a workload (bench.agents.workload) passes the time it started,
    read before its I/O, so that start latency keeps its meaning.
    """
    global _fd
    if _fd is None:
        # Two threads may race here and both open: harmless, both descriptors append.
        _fd = os.open(os.environ[ENV_VAR], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_fd, RECORD.pack(n, time.time() if started is None else started))
