"""One worker process's periodic ticker on its own, for the real-time tests:

    python -m tests.integration.sidequest.periodic_jobs.ticker_process URL SKEW LOG

It runs the loop the worker's scheduler thread will run: sleep until `due`, then `fire`,
on a clock SKEW seconds off the machine's. Each job it pushes becomes a line of LOG:
`<schedule> <tick> <lateness s> <caught_up 0|1>`, after a first line `ready`. SIGTERM
stops it between two fires.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from sidequest.connection import connect
from sidequest.periodic_jobs.store import PeriodicStore
from sidequest.periodic_jobs.ticker import PeriodicTicker
from sidequest.runtime import timer_slack


def main(url: str, skew: float, log: Path) -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    timer_slack.tighten()  # as the worker does before starting its threads

    def clock() -> float:
        return time.time() + skew

    ticker = PeriodicTicker(PeriodicStore(connect(url)), clock=clock)
    with log.open("a") as out:
        out.write("ready\n")
        out.flush()
        while not stopped.is_set():
            now = clock()
            due = ticker.due(now)
            if due > now:
                stopped.wait(due - now)
                continue
            for job in ticker.fire().enqueued:
                out.write(f"{job.name} {job.tick} {job.lateness:.6f} {int(job.caught_up)}\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
