"""infra/prometheus: promtool accepts the config and rules, and the alert unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.infra.conftest import REPO, SERIES_NAMES, load_yaml, metric_names

PROMETHEUS_DIR = REPO / "infra/prometheus"
ALERTS = {
    "SidequestQueueLatencyHigh",
    "SidequestDeadSetGrowing",
    "SidequestNoWorkerHeartbeats",
    "SidequestWorkerReplicaDown",
}
# Compose service -> the port its metrics are served on (see docker-compose.yml).
SCRAPED_SERVICES = {"worker": 9191, "web": 8000}


def promtool_run(promtool: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROMETHEUS_DIR,
    )


def rules() -> list[dict[str, Any]]:
    document = load_yaml(PROMETHEUS_DIR / "rules.yml")
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_promtool_check_config(promtool: Path) -> None:
    result = promtool_run(promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules(promtool: Path) -> None:
    result = promtool_run(promtool, "check", "rules", PROMETHEUS_DIR / "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {rule["alert"] for rule in rules() if "alert" in rule} == ALERTS


def test_promtool_test_rules(promtool: Path) -> None:
    tests = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no rule unit tests in infra/prometheus/tests"
    result = promtool_run(promtool, "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in (PROMETHEUS_DIR / "tests").glob("*.yml"):
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing >= ALERTS, f"never tested firing: {ALERTS - firing}"
    assert quiet >= ALERTS, f"never tested not firing: {ALERTS - quiet}"


def test_every_alert_is_documented_and_has_a_severity() -> None:
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_replicas_are_discovered_through_dns_not_static_names(
    compose_source: dict[str, Any],
) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "prometheus" in jobs, "Prometheus should scrape itself"
    for service, port in SCRAPED_SERVICES.items():
        job = jobs[service]  # the alerts and dashboard select job="worker" / job="web"
        assert "static_configs" not in job, f"{service}: a static target sees one replica only"
        (sd,) = job["dns_sd_configs"]
        assert sd["type"] == "A" and sd["names"] == [service] and sd["port"] == port
        assert service in compose_source["services"]
    worker_expose = compose_source["services"]["worker"]["expose"]
    assert [str(SCRAPED_SERVICES["worker"])] == [str(p) for p in worker_expose]


def test_rules_only_use_exported_metrics() -> None:
    for rule in rules():
        unknown = metric_names(rule["expr"]) - SERIES_NAMES
        assert not unknown, (
            f"{rule.get('alert', rule.get('record'))} uses unknown metrics {unknown}"
        )
