"""Periodic jobs: every published schedule with its next and last tick; pause, resume
and run now. Works from the published definitions (PeriodicStore), never job classes."""

from __future__ import annotations

import time

from flask import Blueprint, render_template
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from sidequest.dashboard.views.common import back_to, client, form_value, notice
from sidequest.periodic_jobs.store import PeriodicStore

ACTIONS = ("pause", "resume", "run")
MAX_NAME = 100  # schedule names are at most 100 characters (periodic_jobs/schedule.py)


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/periodic", "periodic", periodic)
    blueprint.add_url_rule("/periodic/action", "periodic_action", periodic_action, methods=["POST"])


def periodic() -> str:
    return render_template(
        "sidequest_dashboard/periodic.html",
        section="periodic",
        statuses=PeriodicStore(client()).statuses(time.time()),
    )


def periodic_action() -> Response:
    """Pause, resume or run now one schedule."""
    action = form_value("action", 10)
    if action not in ACTIONS:
        raise BadRequest("The action must be pause, resume or run.")
    name = form_value("name", MAX_NAME)
    store = PeriodicStore(client())
    if name not in store.definitions():
        raise NotFound(f"No periodic job is named {name!r}; it may have been removed.")
    now = time.time()
    if action == "pause":
        store.pause(name)
        notice(f"Paused {name}: its ticks pass without a job until it is resumed.")
    elif action == "resume":
        if store.resume(name, now):
            notice(f"Resumed {name}: it runs from its next tick.")
        else:
            notice(f"{name} was not paused.")
    else:
        jid = store.run_now(name, now)
        notice(f"Enqueued {name} now, outside its schedule (job {jid}).")
    return back_to("periodic")
