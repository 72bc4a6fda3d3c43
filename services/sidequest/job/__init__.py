"""The job API: the Job class, its callbacks, retry_on/discard_on and the class registry.

base.py       the Job class: options, state, callbacks, performing
enqueuing.py  preparing a job and pushing it through the current adapter; set(...)
options.py    what one enqueue can change, and the delays and times it accepts
callbacks.py  before/around/after callbacks; rescue.py retry_on/discard_on decisions
registry.py   job names -> classes, for the worker
"""

from sidequest.job.base import Job
from sidequest.job.callbacks import (
    after_enqueue,
    after_perform,
    around_enqueue,
    around_perform,
    before_enqueue,
    before_perform,
)
from sidequest.job.enqueuing import ConfiguredJob
from sidequest.job.options import EnqueueOptions
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
