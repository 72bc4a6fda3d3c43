"""Flow control actions: pause and resume a queue, cancel a job (api/pausing.py,
api/cancelling.py). The buttons live on the Queues, Queue, Busy, Scheduled and Retries
pages; each action redirects back to the page its form names."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from sidequest.api.cancelling import cancel as cancel_job
from sidequest.api.cancelling import checked_jid, describe
from sidequest.api.pausing import MAX_QUEUE_NAME, QueuePauses, checked_queue_name
from sidequest.dashboard.views.common import back_to, client, form_value, notice

#: the pages a cancel may return to (the form's `back`), with the form field their URL needs
_BACK = {"queue": "queue", "busy": None, "scheduled": None, "retries": None, "queues": None}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/queue-actions/pause", "pause_queue", pause_queue, methods=["POST"])
    blueprint.add_url_rule("/queue-actions/resume", "resume_queue", resume_queue, methods=["POST"])
    blueprint.add_url_rule("/job-actions/cancel", "cancel_job", cancel, methods=["POST"])


def pause_queue() -> Response:
    name = _queue_name()
    QueuePauses(client()).pause(name)
    notice(f"Paused queue {name}: no worker fetches from it until it is resumed.")
    return _back_to_queues(name)


def resume_queue() -> Response:
    name = _queue_name()
    QueuePauses(client()).resume(name)
    notice(f"Resumed queue {name}.")
    return _back_to_queues(name)


def cancel() -> Response:
    jid = form_value("jid", 100)
    try:
        checked_jid(jid)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    result = cancel_job(client(), jid)
    said = describe(result)
    notice(said[:1].upper() + said[1:] + ".")
    back = request.form.get("back", "queues")
    if back not in _BACK:
        raise BadRequest("The form's 'back' names no page.")
    if back == "queue":
        return back_to("queue", name=_queue_name())
    return back_to(back)


def _queue_name() -> str:
    try:
        return checked_queue_name(form_value("queue", MAX_QUEUE_NAME))
    except ValueError as error:
        raise BadRequest(str(error)) from None


def _back_to_queues(name: str) -> Response:
    if request.form.get("back") == "queue":
        return back_to("queue", name=name)
    return back_to("queues")
