"""What a finished job's payload says about its batch and its chain. Pure, no I/O.

A batch member carries its batch id in `bid` (Sidekiq Pro's field). A chain step
carries the steps after it in `chain`: a list of ready payloads, the next one first.
On success the worker hands exchange.lua the next step's payload (carrying the rest
of the chain and the bid), and the same script call that acknowledges the step pushes
it, so a step runs only after the previous one succeeded and no crash can lose the
link between them.
"""

from __future__ import annotations

import time
from typing import Any

from sidequest import payload
from sidequest.errors import MalformedPayloadError
from sidequest.payload import JobDict
from sidequest.runtime.outcome import Link


def bid_of(job: JobDict) -> str:
    bid = job.get("bid")
    return bid if isinstance(bid, str) else ""


def link_of(job: JobDict, now: float | None = None) -> Link | None:
    """The Link a success of `job` writes; None for a job in no batch and no chain.

    `now` stamps the next chain step's enqueued_at (default: the time of the call).
    """
    if "bid" not in job and "chain" not in job:
        return None
    bid = bid_of(job)
    jid = str(job.get("jid", ""))
    steps: Any = job.get("chain")
    if not (isinstance(steps, list) and steps and isinstance(steps[0], dict)):
        return Link(bid, jid) if bid else None
    step: JobDict = dict(steps[0])
    if len(steps) > 1:
        step["chain"] = steps[1:]
    if bid:
        step["bid"] = bid
    step["enqueued_at"] = time.time() if now is None else now
    queue = step.get("queue")
    step["queue"] = queue if isinstance(queue, str) and queue else "default"
    return Link(bid, jid, step["queue"], payload.encode(step), str(step.get("jid", "")))


def member_of_raw(raw: bytes | str) -> tuple[str, str]:
    """(bid, jid) of a raw payload; ("", "") when it is no job or in no batch."""
    if b'"bid"' not in (raw if isinstance(raw, bytes) else raw.encode()):
        return "", ""
    try:
        job = payload.decode(raw if isinstance(raw, bytes) else raw.encode())
    except MalformedPayloadError:  # not a job: it belongs to no batch we can name
        return "", ""
    return bid_of(job), str(job.get("jid", ""))
