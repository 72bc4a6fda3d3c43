"""Whether a job pushed by name will be run: what `sidequest enqueue` warns about.

Pushing by name succeeds whatever the name and the queue, and a job nobody will run
looks just like a job about to run. Without the job's module (`-r`), the live worker
processes are the only witnesses: their heartbeats list the queues they watch, and
sidequest workers list the job classes they registered (`registered_classes.py`).
Pure: the caller reads the processes (`api.ProcessSet.all()`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sidequest.api.processes import Process


def warnings(processes: Sequence[Process], job_class: str, queue: str) -> list[str]:
    """What stands between the job and a worker that runs it; [] when nothing does.

    The class is checked against the processes that watch the queue (all live ones when
    none does), and only when every one of them lists its classes: Ruby's Sidekiq and
    older sidequest workers do not, and any of them may know the class.
    """
    if not processes:
        return [
            f"no worker process is running (none has a heartbeat in Redis): the job waits "
            f"in queue {queue!r} until one watching it starts"
        ]
    found: list[str] = []
    watching = [process for process in processes if queue in process.queues]
    if not watching:
        watched = sorted({name for process in processes for name in process.queues})
        found.append(
            f"no live worker process watches queue {queue!r} (they watch: "
            f"{', '.join(watched) or 'nothing'}): the job waits there until one does"
        )
    candidates = watching or processes
    known = [process.job_classes for process in candidates]
    if all(names is not None and job_class not in names for names in known):
        whose = f"watching queue {queue!r} " if watching else ""
        found.append(
            f"no live worker process {whose}has registered a job class named {job_class!r}: "
            "one that fetched the job would fail it as unknown (UnknownJobError) and retry "
            "it until a worker that knows the class runs it. Check the name, or pass "
            "-r MODULE to check the class and its arguments here"
        )
    return found
