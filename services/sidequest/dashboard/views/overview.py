"""The dashboard page (numbers, live graph, history, Redis) and its JSON stats feed."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, render_template, request

from sidequest.api import Stats
from sidequest.dashboard import charts, params
from sidequest.dashboard.views.common import client


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/", "dashboard", dashboard)
    blueprint.add_url_rule("/stats.json", "stats", stats_json)


def dashboard() -> str:
    days = params.history_days(request.args)
    poll = params.poll_seconds(request.args)
    stats = Stats(client())
    snapshot = stats.snapshot()
    return render_template(
        "sidequest_dashboard/dashboard.html",
        section="dashboard",
        snapshot=snapshot,
        days=days,
        day_options=params.HISTORY_DAYS,
        poll=poll,
        poll_options=sorted({*params.POLL_SECONDS, poll}),
        chart=charts.history_chart(stats.history(days)),
        redis_info=stats.redis_info(),
    )


def stats_json() -> dict[str, Any]:
    """What the live graph polls: the headline numbers now (Sidekiq's /stats)."""
    stats = Stats(client())
    document = stats.snapshot().as_dict()
    del document["queues"]
    document["time"] = time.time()
    document["redis"] = stats.redis_info()
    return document
