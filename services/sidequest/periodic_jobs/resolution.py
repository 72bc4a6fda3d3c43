"""Fill in a schedule's queue and retry from its job class, when this process knows it.

A schedule may name any class, a Ruby one included; only when the class is registered
here (its module imported by the worker) do its `queue` and `retry` become the
schedule's defaults. Otherwise they are Sidekiq's: `default` and `true`. The worker
resolves schedules before publishing them (store.publish), so that the definition in
Redis is complete for readers that know no job classes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sidequest.job import registry
from sidequest.periodic_jobs.payloads import DEFAULT_QUEUE
from sidequest.periodic_jobs.schedule import Schedule


def resolve(schedule: Schedule) -> Schedule:
    job_class = registry.resolve(schedule.job_class)
    if job_class is None:
        return schedule.resolved(queue=DEFAULT_QUEUE, retry=True)
    return schedule.resolved(queue=job_class.queue, retry=job_class.retry)


def resolve_all(schedules: Iterable[Schedule]) -> list[Schedule]:
    return [resolve(schedule) for schedule in schedules]
