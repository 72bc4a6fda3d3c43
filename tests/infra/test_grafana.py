"""infra/grafana: provisioning files and the dashboard, with every panel query checked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.infra.conftest import (
    CONTRACT_METRICS,
    HISTOGRAMS,
    REPO,
    SERIES_NAMES,
    load_yaml,
    metric_names,
)
from tests.stack.grafana_queries import (
    DASHBOARDS_DIR,
    SIDEQUEST_DASHBOARD,
    iter_panels,
    load_dashboard,
    panel_queries,
    to_promql,
)

PROVISIONING = REPO / "infra/grafana/provisioning"
DATASOURCE_UID = "sidequest-prometheus"
DASHBOARD_UID = "sidequest-overview"


def provisioned_datasource() -> dict[str, Any]:
    (datasource,) = load_yaml(PROVISIONING / "datasources/prometheus.yml")["datasources"]
    assert isinstance(datasource, dict)
    return datasource


def test_datasource_is_provisioned_with_a_fixed_uid(compose_source: dict[str, Any]) -> None:
    datasource = provisioned_datasource()
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"  # the Compose service
    assert "prometheus" in compose_source["services"]
    # $__rate_interval is sized from the scrape interval Grafana is told about.
    prometheus = load_yaml(REPO / "infra/prometheus/prometheus.yml")
    assert datasource["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]


def test_dashboard_provider_loads_json_files() -> None:
    (provider,) = load_yaml(PROVISIONING / "dashboards/sidequest.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]  # matched to the Compose mount in test_compose.py


def test_every_dashboard_is_valid_and_uses_the_provisioned_datasource() -> None:
    dashboards = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert SIDEQUEST_DASHBOARD in dashboards
    uids = set()
    for path in dashboards:
        text = path.read_text(encoding="utf-8")
        # Export-for-sharing placeholders are only resolved by the import UI.
        assert "${DS_" not in text and "__inputs" not in text, path
        dashboard = load_dashboard(path)
        assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
        assert dashboard.get("id") is None, "provisioned dashboards carry no numeric id"
        uids.add(dashboard["uid"])
        panels = iter_panels(dashboard)
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels:
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
            if panel["type"] == "row":
                continue
            expected = {"type": "prometheus", "uid": DATASOURCE_UID}
            assert panel["datasource"] == expected, panel["title"]
            assert panel["targets"], f"{panel['title']} has no query"
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE_UID
                assert target["expr"].strip() and target["refId"]
    assert len(uids) == len(dashboards), "dashboard uids must be unique"
    assert load_dashboard()["uid"] == DASHBOARD_UID  # stable: links and provisioning key on it


def test_dashboard_covers_every_exported_metric() -> None:
    used: set[str] = set()
    for title, expr in panel_queries():
        unknown = metric_names(expr) - SERIES_NAMES
        assert not unknown, f"panel {title!r} queries unknown metrics {unknown}"
        used |= {re.sub(r"_(bucket|sum|count)$", "", name) for name in metric_names(expr)}
    assert used == CONTRACT_METRICS, f"metrics with no panel: {CONTRACT_METRICS - used}"


def test_histogram_panels_use_buckets_and_rates() -> None:
    for title, expr in panel_queries():
        if "histogram_quantile" in expr:
            assert re.search(r"rate\(\w+_bucket\[", expr), title
            assert re.search(r"by \([^)]*\ble\b", expr), f"{title}: aggregate keeping `le`"
        for name in HISTOGRAMS:
            assert not re.search(rf"\b{name}\b(?!_)", expr), f"{title}: {name} needs a suffix"


def test_panel_queries_lists_every_target() -> None:
    dashboard = load_dashboard()
    count = sum(len(panel.get("targets", [])) for panel in iter_panels(dashboard))
    queries = panel_queries()
    assert len(queries) == count > 0
    titles = {panel["title"] for panel in iter_panels(dashboard) if panel["type"] != "row"}
    assert {title for title, _ in queries} == titles
    assert to_promql("rate(x[$__rate_interval]) + rate(y[${__interval}])", "2m") == (
        "rate(x[2m]) + rate(y[2m])"
    )


def test_every_panel_query_is_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """Each expr becomes a recording rule, which `promtool check rules` parses."""
    dashboards = sorted(DASHBOARDS_DIR.glob("*.json"))
    records: list[dict[str, Any]] = []
    for path in dashboards:
        for number, (title, expr) in enumerate(panel_queries(path)):
            record = f"grafana_query_{path.stem.replace('-', '_')}_{number}"
            # The panel title as a label: promtool's errors then name the panel.
            records.append(
                {"record": record, "expr": to_promql(expr, "5m"), "labels": {"panel": title}}
            )
    assert "$" not in "".join(record["expr"] for record in records), "unexpanded variable"
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": records}]}))
    result = subprocess.run(
        [str(promtool), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout
