"""Moves this process's wall clock by SIDEQUEST_TEST_CLOCK_SKEW seconds, as on a host
whose clock is off. Python imports it at start-up when this directory is on PYTHONPATH.

sidequest reads wall-clock time through time.time() (scheduling, retries, heartbeats);
monotonic time, which only measures intervals, stays true, as it would on such a host.
(libfaketime would be the usual tool, but it breaks Python 3.11's sleeps and condition
waits: clock_nanosleep with an absolute monotonic deadline fails with EINVAL.)
"""

import os
import time

_skew = float(os.environ.get("SIDEQUEST_TEST_CLOCK_SKEW", "0"))
if _skew:
    _time, _time_ns = time.time, time.time_ns
    time.time = lambda: _time() + _skew
    time.time_ns = lambda: _time_ns() + int(_skew * 1_000_000_000)
