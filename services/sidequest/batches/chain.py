"""Chains: jobs that run one after the other, each once the previous one succeeded.

    chain(FetchJob.s(url), ParseJob.s(), StoreJob.s()).perform_later()

Every step's payload is built when the chain is enqueued (its jid, queue, arguments);
the first step carries the others in `chain`. When a step succeeds, the script call
that acknowledges it pushes the next one (runtime/links.py, exchange.lua), so a crash
can neither lose the next step nor run it before the previous one succeeded. A step
that fails is retried as usual; one that dies or is discarded ends the chain: the
steps after it never run, and in a batch its end counts as a death (on_death fires). Each
step runs with the arguments of its own signature; results are not passed along.
Inside a `with batch:` block the chain joins the batch: each step is a member from the
moment it is pushed, so the batch completes after the chain's last step (or its end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sidequest.job import enqueuing
from sidequest.job.options import NO_OPTIONS, EnqueueOptions

if TYPE_CHECKING:
    from sidequest.job.base import Job


@dataclass(frozen=True)
class Signature:
    """A job class with its arguments, not enqueued yet: `Job.s(*args, **kwargs)`."""

    job_class: type[Job]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: EnqueueOptions = NO_OPTIONS


@dataclass(frozen=True)
class Chain:
    steps: tuple[Signature, ...]

    def perform_later(self) -> Job:
        """Enqueue the first step, carrying the others; returns the first step's job."""
        if not self.steps:
            raise ValueError("a chain needs at least one step")
        now = time.time()
        later: list[dict[str, Any]] = []
        for step in self.steps[1:]:
            checked, named = enqueuing.checked_call(step.job_class, step.args, step.kwargs)
            job = enqueuing.prepare(step.job_class, checked, step.options, now, named)
            later.append(dict(job.payload))
        first = self.steps[0]
        options = first.options
        if later:
            options = replace(options, extra=(*options.extra, ("chain", later)))
        return enqueuing.enqueue(first.job_class, first.args, options, first.kwargs)


def chain(*steps: Signature) -> Chain:
    """The steps to run in order, each after the previous one succeeded."""
    return Chain(tuple(steps))
