"""Queues: sizes, latencies, paused or not; per queue a paged, filterable job list;
delete, clear (pause, resume and cancel are views/flow.py's)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from sidequest.api import (
    JobRecord,
    Queue,
    QueuePauses,
    find_in_queue,
    queue_summaries,
    search_queue,
)
from sidequest.dashboard import charts, config, params, state
from sidequest.dashboard.views.common import back_to, client, form_value, notice, pager

MAX_QUEUE_NAME = 200


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/queues", "queues", queues)
    blueprint.add_url_rule("/queues/<path:name>", "queue", queue)
    blueprint.add_url_rule(
        "/queue-actions/delete-job", "delete_queued_job", delete_queued_job, methods=["POST"]
    )
    blueprint.add_url_rule("/queue-actions/clear", "clear_queue", clear_queue, methods=["POST"])


def queues() -> str:
    needle = params.filter_text(request.args)
    summaries = queue_summaries(client())
    if needle:
        summaries = [item for item in summaries if needle.lower() in item.name.lower()]
    return render_template(
        "sidequest_dashboard/queues.html",
        section="queues",
        summaries=summaries,
        bars={bar.label: bar for bar in charts.bars([(q.name, q.size) for q in summaries])},
        filter=needle,
        paused=set(QueuePauses(client()).paused()),
    )


def queue(name: str) -> str:
    target = _existing(name)
    needle = params.filter_text(request.args)
    size = target.size()
    scan = None
    if needle:
        scan = search_queue(
            client(),
            target.name,
            needle,
            limit=config.FILTER_MATCH_LIMIT,
            max_scanned=state.current().config.filter_scan_limit,
        )
        page = pager(len(scan.matches))
        jobs: list[tuple[int | None, JobRecord]] = [
            (None, record) for record in scan.matches[page.start : page.start + page.size]
        ]
    else:
        page = pager(size)
        jobs = list(enumerate(target.page(page.start, page.size), start=page.start))
    return render_template(
        "sidequest_dashboard/queue.html",
        section="queues",
        queue=target,
        size=size,
        latency=target.latency(),
        jobs=jobs,
        pager=page,
        filter=needle,
        scan=scan,
        paused=QueuePauses(client()).is_paused(target.name),
    )


def delete_queued_job() -> Response:
    target = _existing(form_value("queue", MAX_QUEUE_NAME))
    jid = form_value("jid", 100)
    try:
        near = int(request.form.get("index", "0"))
    except ValueError:
        raise BadRequest("The form's 'index' is not a whole number.") from None
    record = find_in_queue(client(), target.name, jid, max(0, near)) or target.find(
        jid, scan_limit=state.current().config.filter_scan_limit
    )
    if record is None or not target.delete(record):
        notice(f"Job {jid} is no longer in the queue (it may have run already).")
    else:
        notice(f"Deleted job {jid}.")
    return back_to("queue", name=target.name)


def clear_queue() -> Response:
    target = _existing(form_value("queue", MAX_QUEUE_NAME))
    size = target.size()
    target.clear()
    notice(f"Cleared queue {target.name} ({size:,} jobs).")
    return back_to("queues")


def _existing(name: str) -> Queue:
    if len(name) > MAX_QUEUE_NAME:
        raise BadRequest(f"Queue names are at most {MAX_QUEUE_NAME} characters.")
    if name not in {known.name for known in Queue.all(client())}:
        raise NotFound(f"There is no queue named {name!r}.")
    return Queue(client(), name)
