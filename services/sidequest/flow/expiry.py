"""Expiring jobs (`expires_in`): a job not started by its deadline is dropped, never run.

The deadline is the payload's `expires_at` (float epoch seconds), a key of our own:
the time the job is due (now, or its scheduled time) plus `expires_in`. Ruby Sidekiq
workers ignore the key and run the job whenever they get to it.

Only a first attempt expires: a job that started and failed has started, and its
retries follow its retry policy; so does a job recovered from a dead worker (its
payload counts `recoveries`): it had started too.
"""

from __future__ import annotations

from typing import Any

FIELD = "expires_at"


def deadline(due: float, expires_in: float) -> float:
    return due + expires_in


def expired(job: dict[str, Any], now: float) -> bool:
    """Whether `job` must be dropped instead of started at `now`."""
    at = job.get(FIELD)
    if not isinstance(at, int | float) or isinstance(at, bool):
        return False
    if job.get("retry_count") is not None or job.get("recoveries"):
        return False
    return now > float(at)
