"""infra/kubernetes: the kustomize base and the local overlay, checked offline.

- `kustomize build` (Debian's kustomize, from trixie) builds both;
- every resource of both builds validates, strictly (no unknown field), against the
  Kubernetes 1.30 schemas of kubernetes-validate (PyPI); KEDA's ScaledObject, a CRD it
  has no schema for, is checked field by field here;
- the ScaledObject's PromQL parses (`promtool check rules`) and evaluates as intended
  on recorded series (`promtool test rules`): the highest queue latency, in seconds;
- the in-cluster Prometheus config passes `promtool check config` (Debian's promtool
  is built without Kubernetes discovery, so its `kubernetes_sd_configs` is swapped for
  a static target: the relabelling, which holds the annotations' logic, is checked);
- the timings that must agree do: the workers' grace period exceeds supervisord's
  stopwaitsecs, which exceeds the shutdown timeout; the liveness probe's age exceeds
  the heartbeat timeout; every container has requests and a memory limit.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sidequest.config import Settings
from tests.infra.conftest import locate

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "infra" / "kubernetes"
BUILDS = {"base": KUBERNETES / "base", "local": KUBERNETES / "overlays" / "local"}
KUBERNETES_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def kustomize() -> Path:
    return locate("kustomize", "apt-get install -t trixie kustomize (Debian's next release has it)")


def build(kustomize: Path, name: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kustomize), "build", str(BUILDS[name])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_every_resource_validates_against_the_kubernetes_schemas(
    kustomize: Path, name: str
) -> None:
    docs = build(kustomize, name)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "StatefulSet", "Job", "HorizontalPodAutoscaler", "ScaledObject"} <= kinds
    for doc in docs:
        if doc["kind"] == "ScaledObject":
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {error.message}")


def test_the_local_overlay_puts_everything_in_its_namespace(kustomize: Path) -> None:
    docs = build(kustomize, "local")
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "sidequest", doc["metadata"]["name"]
    binding = by_kind(docs, "RoleBinding", "sidequest-prometheus")
    assert binding["subjects"][0]["namespace"] == "sidequest"
    # Generated names (with their hash) are what the pods refer to.
    secret = next(d for d in docs if d["kind"] == "Secret")
    web = by_kind(docs, "Deployment", "sidequest-web")
    refs = [
        e.get("secretRef", {}).get("name")
        for e in web["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    ]
    assert secret["metadata"]["name"] in refs


def scaled_object(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(docs, "ScaledObject", "sidequest-worker")


def test_the_scaled_object_targets_the_workers_on_queue_latency(kustomize: Path) -> None:
    docs = build(kustomize, "local")
    spec = scaled_object(docs)["spec"]
    assert scaled_object(docs)["apiVersion"] == "keda.sh/v1alpha1"
    assert set(spec) <= {
        "scaleTargetRef",
        "minReplicaCount",
        "maxReplicaCount",
        "pollingInterval",
        "cooldownPeriod",
        "advanced",
        "triggers",
        "idleReplicaCount",
        "fallback",
    }
    by_kind(docs, "Deployment", spec["scaleTargetRef"]["name"])
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    [trigger] = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] in ("Value", "AverageValue")
    metadata = trigger["metadata"]
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA wants strings"
    float(metadata["threshold"])
    float(metadata["activationThreshold"])
    service = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", metadata["serverAddress"])
    assert service is not None
    prometheus = by_kind(docs, "Service", service[1])
    assert prometheus["spec"]["ports"][0]["port"] == int(service[2])
    assert "sidequest_queue_latency_seconds" in metadata["query"]
    # The queues it watches are the workers' queues.
    queues = set(re.findall(r"[a-z]+", metadata["query"].split('=~"')[1].split('"')[0]))
    worker_config = yaml.safe_load((ROOT / "worker" / "sidequest.yml").read_text())
    assert queues == {entry[0] for entry in worker_config[":queues"]}


def test_the_scaled_object_query_parses_and_gives_the_highest_latency(
    kustomize: Path, promtool: Path, tmp_path: Path
) -> None:
    query = scaled_object(build(kustomize, "local"))["spec"]["triggers"][0]["metadata"]["query"]
    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {"name": "keda", "rules": [{"record": "keda:worker_latency", "expr": query}]}
                ]
            }
        )
    )
    checked = subprocess.run(
        [str(promtool), "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Two web pods export the same gauges (each reads Redis at scrape time); a queue the
    # workers do not serve is ignored.
    test = tmp_path / "test.yml"
    series = 'sidequest_queue_latency_seconds{{queue="{queue}",pod="{pod}"}}'
    test.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules)],
                "evaluation_interval": "15s",
                "tests": [
                    {
                        "interval": "15s",
                        "input_series": [
                            {
                                "series": series.format(queue="default", pod="web-a"),
                                "values": "0 4 25",
                            },
                            {
                                "series": series.format(queue="default", pod="web-b"),
                                "values": "0 4 25",
                            },
                            {
                                "series": series.format(queue="reports", pod="web-a"),
                                "values": "0 12 3",
                            },
                            {
                                "series": series.format(queue="other", pod="web-a"),
                                "values": "900 900 900",
                            },
                        ],
                        "promql_expr_test": [
                            {
                                "expr": "keda:worker_latency",
                                "eval_time": "0s",
                                "exp_samples": [{"labels": "keda:worker_latency", "value": 0}],
                            },
                            {
                                "expr": "keda:worker_latency",
                                "eval_time": "15s",
                                "exp_samples": [{"labels": "keda:worker_latency", "value": 12}],
                            },
                            {
                                "expr": "keda:worker_latency",
                                "eval_time": "30s",
                                "exp_samples": [{"labels": "keda:worker_latency", "value": 25}],
                            },
                        ],
                    }
                ],
            }
        )
    )
    tested = subprocess.run(
        [str(promtool), "test", "rules", str(test)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_in_cluster_prometheus_config_passes_promtool(promtool: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((KUBERNETES / "base" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"own_namespace": True}}]
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["127.0.0.1:9191"]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [str(promtool), "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_pods_scraped_are_the_ones_serving_metrics(kustomize: Path) -> None:
    docs = build(kustomize, "local")
    for name in ("sidequest-web", "sidequest-worker"):
        template = by_kind(docs, "Deployment", name)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        ports = [p["containerPort"] for p in template["spec"]["containers"][0]["ports"]]
        assert int(annotations["prometheus.io/port"]) in ports


def _supervisord_stopwaitsecs() -> int:
    text = (ROOT / "worker" / "supervisord.conf").read_text()
    section = text.split("[program:worker]")[1].split("\n[")[0]
    found = re.search(r"^stopwaitsecs=(\d+)", section, re.MULTILINE)
    assert found is not None
    return int(found[1])


def test_the_timings_agree(kustomize: Path) -> None:
    docs = build(kustomize, "local")
    config = by_kind(docs, "ConfigMap", "sidequest-config")["data"]
    worker = by_kind(docs, "Deployment", "sidequest-worker")["spec"]["template"]["spec"]
    shutdown = float(config["SIDEQUEST_SHUTDOWN_TIMEOUT"])
    assert worker["terminationGracePeriodSeconds"] > _supervisord_stopwaitsecs() > shutdown
    [container] = worker["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert float(env["HEALTHCHECK_MAX_AGE"]) > Settings().heartbeat_timeout
    probe = container["livenessProbe"]
    assert probe["exec"]["command"] == ["python", "-m", "worker.healthcheck"]
    # A Redis failover takes seconds: the probe must not restart workers during one.
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 30
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for each in doc["spec"]["template"]["spec"]["containers"]:
            resources = each["resources"]
            assert resources["requests"]["memory"] and resources["limits"]["memory"], each["name"]
    assert config["REDIS_URL"].startswith("redis+sentinel://")
    statefulset = by_kind(docs, "StatefulSet", "sidequest-redis")
    hosts = config["REDIS_URL"].split("://")[1].split("/")[0].split(",")
    assert len(hosts) == statefulset["spec"]["replicas"]
