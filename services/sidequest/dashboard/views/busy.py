"""Worker processes and the jobs they run now; quiet and stop, one or all."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from sidequest.api import ProcessSet, progresses
from sidequest.dashboard import params
from sidequest.dashboard.views.common import Pager, back_to, client, form_value, notice, plural

MAX_PROCESSES_SHOWN = 500
SIGNALS = {"quiet": "TSTP", "stop": "TERM"}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/busy", "busy", busy)
    blueprint.add_url_rule("/busy/signal", "signal_process", signal_process, methods=["POST"])


def busy() -> str:
    processes = ProcessSet(client())
    everyone = processes.all()
    needle = params.filter_text(request.args)
    work = processes.work()
    if needle:
        work = [item for item in work if item.job.matches(needle)]
    page = Pager(params.page(request.args), 100, len(work))
    shown = work[page.start : page.start + page.size]
    # The progress its job reported (self.progress), for the jobs on this page.
    progress = progresses([item.job.jid for item in shown if item.job.jid], client())
    return render_template(
        "sidequest_dashboard/busy.html",
        section="busy",
        processes=everyone[:MAX_PROCESSES_SHOWN],
        hidden_processes=max(0, len(everyone) - MAX_PROCESSES_SHOWN),
        busy_total=sum(process.busy for process in everyone),
        work=shown,
        progress=progress,
        pager=page,
        filter=needle,
    )


def signal_process() -> Response:
    """Send quiet (TSTP) or stop (TERM) to one process, or to every live one."""
    action = form_value("action", 10)
    if action not in SIGNALS:
        raise BadRequest("The action must be quiet or stop.")
    target = form_value("identity")
    processes = ProcessSet(client())
    live = [process.identity for process in processes.all()]
    if target == "*":
        chosen = live
    elif target in live:
        chosen = [target]
    else:
        raise NotFound("No live process has that identity; it may have stopped already.")
    for identity in chosen:
        processes.signal(identity, SIGNALS[action])
    notice(f"Sent {action} to {plural(len(chosen), 'process', 'processes')}.")
    return back_to("busy")
