"""The job API: the Job class, its callbacks, retry_on/discard_on and the class registry."""

from sidequest.job.base import ConfiguredJob, EnqueueOptions, Job
from sidequest.job.callbacks import (
    after_enqueue,
    after_perform,
    around_enqueue,
    around_perform,
    before_enqueue,
    before_perform,
)
from sidequest.job.rescue import discard_on, retry_on

__all__ = [
    "ConfiguredJob",
    "EnqueueOptions",
    "Job",
    "after_enqueue",
    "after_perform",
    "around_enqueue",
    "around_perform",
    "before_enqueue",
    "before_perform",
    "discard_on",
    "retry_on",
]
