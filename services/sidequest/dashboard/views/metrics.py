"""Job metrics per class over the last hour or day, from what the workers recorded."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from sidequest.api import JobMetrics
from sidequest.dashboard import charts, params
from sidequest.dashboard.views.common import client

WINDOWS = ("hour", "day")


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/metrics", "metrics", metrics)


def metrics() -> str:
    window = params.word(request.args, "window", "hour", WINDOWS)
    needle = params.filter_text(request.args)
    rows = JobMetrics(client()).by_class(window)
    if needle:
        rows = [row for row in rows if needle.lower() in row.job_class.lower()]
    return render_template(
        "sidequest_dashboard/metrics.html",
        section="metrics",
        window=window,
        windows=WINDOWS,
        rows=rows,
        bars={bar.label: bar for bar in charts.bars([(r.job_class, r.executions) for r in rows])},
        filter=needle,
    )
