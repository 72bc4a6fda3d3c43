"""The PromQL queries of the provisioned Grafana dashboards, for tests that run them.

`panel_queries()` lists (panel title, expr) for every target of a dashboard JSON, and
`to_promql()` replaces Grafana's interval macros so an expr can be sent to a plain
Prometheus `/api/v1/query`. tests/infra checks the syntax of every expr with promtool;
the stack tests run them against a Prometheus scraping the running stack.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "infra" / "grafana" / "dashboards"
SIDEQUEST_DASHBOARD = DASHBOARDS_DIR / "sidequest.json"

# Grafana's built-in interval variables, in both `$name` and `${name}` spellings.
_MACRO = re.compile(
    r"\$(?:\{(__rate_interval|__interval|__range)\}|(__rate_interval|__interval|__range)\b)"
)


def load_dashboard(path: Path = SIDEQUEST_DASHBOARD) -> dict[str, Any]:
    """Parse a dashboard JSON file (Grafana's "JSON model")."""
    with path.open(encoding="utf-8") as handle:
        dashboard: dict[str, Any] = json.load(handle)
    return dashboard


def iter_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows, in dashboard order."""
    found: list[dict[str, Any]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            found.append(panel)
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    return found


def panel_queries(path: Path = SIDEQUEST_DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, expr) for every Prometheus target of the dashboard at `path`."""
    queries: list[tuple[str, str]] = []
    for panel in iter_panels(load_dashboard(path)):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                queries.append((str(panel.get("title", "")), expr))
    return queries


def to_promql(expr: str, interval: str = "1m") -> str:
    """Replace $__rate_interval, $__interval and $__range (Grafana macros) with `interval`.

    Choose an interval of at least four scrape intervals of the Prometheus being queried,
    as Grafana does for $__rate_interval, or rate() returns nothing.
    """
    return _MACRO.sub(interval, expr)
