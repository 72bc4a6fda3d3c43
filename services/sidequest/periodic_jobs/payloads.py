"""The Sidekiq-format payload of a periodic job. Pure, no I/O.

Built from the definition alone (no job class is imported: the class may be Ruby's), with
two fields of our own that Sidekiq's readers ignore: `periodic`, the schedule's name, and
`periodic_at`, the tick in whole epoch seconds (a job reads it as `self.periodic_at`).
A run outside the schedule (`sidequest periodic run`) carries its own time there and
`periodic_manual: true`.
"""

from __future__ import annotations

from sidequest import payload
from sidequest.payload import JobDict
from sidequest.periodic_jobs.schedule import Schedule

DEFAULT_QUEUE = "default"


def build(schedule: Schedule, tick: int, now: float, *, manual: bool = False) -> JobDict:
    """The payload for one tick, `enqueued_at` set to `now`, ready to push."""
    extra: dict[str, object] = {"periodic": schedule.name, "periodic_at": tick}
    if manual:
        extra["periodic_manual"] = True
    job = payload.build(
        schedule.job_class,
        list(schedule.args),
        queue=schedule.queue or DEFAULT_QUEUE,
        retry=True if schedule.retry is None else schedule.retry,
        extra=extra,
        now=now,
    )
    job["enqueued_at"] = now
    return job
