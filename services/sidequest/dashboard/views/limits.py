"""Limits: every concurrency and rate limit key in use, its slots or starts, and the
jobs parked for a slot. Read-only; works from the limiters' keys (api.Limits), never
job classes."""

from __future__ import annotations

import time

from flask import Blueprint, render_template

from sidequest import api
from sidequest.dashboard.views.common import client

#: parked jobs shown under each key (the next to run first)
PARKED_SHOWN = 5
#: keys listed (the busiest first); a limit keyed per account may have many
KEYS_SHOWN = 200


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/limits", "limits", limits)


def limits() -> str:
    redis_client = client()
    reader = api.Limits(redis_client)
    states = reader.all(time.time())
    shown = states[:KEYS_SHOWN]
    parked = {
        state.key: reader.parked_jobs(state.key, 0, PARKED_SHOWN)
        for state in shown
        if state.kind == "concurrency" and state.parked
    }
    return render_template(
        "sidequest_dashboard/limits.html",
        section="limits",
        states=shown,
        total=len(states),
        parked=parked,
    )
