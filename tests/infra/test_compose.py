"""docker-compose.yml: accepted by docker-compose, and shaped as issue 5 asks."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.conftest import REPO, load_yaml, parse_duration

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

SERVICES = {"redis", "postgres", "mailpit", "migrate", "web", "worker", "prometheus", "grafana"}
APP_SERVICES = ("web", "worker")
# The environment both tiers read (the contract with the Python parts).
APP_ENVIRONMENT = {
    "REDIS_URL",
    "DATABASE_URL",
    "SMTP_URL",
    "REPORTS_DIR",
    "APP_BASE_URL",
    "MAIL_FROM",
    "ADMIN_EMAIL",
    "SECRET_KEY",
    "SIDEQUEST_WEB_USERNAME",
    "SIDEQUEST_WEB_PASSWORD",
    "WORKER_PROCESSES",
    "SIDEQUEST_CONCURRENCY",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "PROMETHEUS_MULTIPROC_DIR",
    "LOG_FORMAT",
}
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}")


def volumes(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """{container path: (source, read-only)}; docker-compose 1.29 prints the short form."""
    found: dict[str, tuple[str, bool]] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (volume["source"], bool(volume.get("read_only")))
        else:
            source, target, *mode = volume.split(":")
            found[target] = (source, mode == ["ro"])
    return found


def ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    """[(host ip, container port)] of a service's published ports."""
    found: list[tuple[str, int]] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", ""), int(port["target"])))
        else:
            *host, target = str(port).split("/")[0].split(":")
            found.append((host[0] if len(host) == 2 else "", int(target)))
    return found


def compose(
    binary: Path, *args: str, env_file: Path, files: tuple[Path, ...] = (COMPOSE_FILE,)
) -> subprocess.CompletedProcess[str]:
    """Run docker-compose with a clean environment, so only `env_file` interpolates."""
    command = [str(binary), "--project-directory", str(REPO), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def resolved(binary: Path, env_file: Path, *files: Path) -> dict[str, Any]:
    result = compose(binary, "config", env_file=env_file, files=(COMPOSE_FILE, *files))
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def env_example() -> tuple[dict[str, str], set[str]]:
    """(uncommented NAME=value pairs, names only mentioned in `# NAME=...` lines)."""
    values: dict[str, str] = {}
    mentioned: set[str] = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z_][A-Z0-9_]*)=(.*)$", line.strip())
        if match is None:
            continue
        if match.group(1):
            mentioned.add(match.group(2))
        else:
            values[match.group(2)] = match.group(3)
    return values, mentioned


@pytest.fixture(scope="module")
def empty_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def config(docker_compose: Path, empty_env: Path) -> dict[str, Any]:
    """The file as docker-compose resolves it with every default (no .env)."""
    return resolved(docker_compose, empty_env)


def test_docker_compose_config_accepts_the_file(docker_compose: Path, empty_env: Path) -> None:
    for env_file in (empty_env, ENV_EXAMPLE):
        result = compose(docker_compose, "config", "-q", env_file=env_file)
        assert result.returncode == 0, f"with {env_file.name}: {result.stderr}"
    services = compose(docker_compose, "config", "--services", env_file=empty_env)
    assert set(services.stdout.split()) == SERVICES


def test_worker_replicas_can_be_changed(
    docker_compose: Path, empty_env: Path, tmp_path: Path
) -> None:
    """What `--scale worker=N` does: another replica count validates and takes effect."""
    override = tmp_path / "scale.yml"
    override.write_text("services:\n  worker:\n    deploy:\n      replicas: 4\n")
    scaled = resolved(docker_compose, empty_env, override)
    assert scaled["services"]["worker"]["deploy"]["replicas"] == 4


def test_scaled_services_have_no_fixed_names_or_host_ports(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker, "host ports would clash between replicas"
    assert worker["deploy"]["replicas"] == 2


def test_no_version_key_and_every_image_pinned(compose_source: dict[str, Any]) -> None:
    assert "version" not in compose_source, "the `version:` key is obsolete"
    for name, service in compose_source["services"].items():
        image = service.get("image", "")
        if "build" in service:
            continue  # our own image, built from ./Dockerfile (which pins its base)
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image!r} is not pinned"


def test_host_ports_are_bound_to_loopback(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        for host_ip, port in ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond localhost"


def test_redis_is_durable_and_checked(
    config: dict[str, Any], compose_source: dict[str, Any]
) -> None:
    redis = config["services"]["redis"]
    assert redis["image"].startswith("redis:")
    mounts = volumes(redis)
    assert mounts["/usr/local/etc/redis/redis.conf"] == (str(REPO / "infra/redis/redis.conf"), True)
    assert mounts["/data"][0] in compose_source["volumes"], "Redis data needs a named volume"
    assert redis["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_web_waits_for_healthy_dependencies_and_checks_healthz(config: dict[str, Any]) -> None:
    web = config["services"]["web"]
    assert web["command"] == ["gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:app"]
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert any("/healthz" in part for part in web["healthcheck"]["test"])
    assert [port for _, port in ports(web)] == [8000]


def test_worker_runs_supervisord_and_stops_gracefully(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    assert worker["command"] == ["supervisord", "-c", "worker/supervisord.conf"]
    assert worker["init"] is True
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "worker.healthcheck"]
    assert worker["expose"] == ["9191"]
    for dependency in ("redis", "postgres"):
        assert worker["depends_on"][dependency]["condition"] == "service_healthy"
    shutdown_timeout = float(worker["environment"]["SIDEQUEST_SHUTDOWN_TIMEOUT"])
    assert parse_duration(worker["stop_grace_period"]) > shutdown_timeout + 10
    # test_supervisord.py checks stopwaitsecs against both of these numbers.


def test_long_running_services_restart_and_migrate_runs_once(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        if name == "migrate":
            assert service["restart"] == "no"
            assert service["command"] == ["python", "-m", "shop.db", "upgrade"]
        else:
            # supervisord exits 0 after a FATAL program: on-failure would not restart it.
            assert service.get("restart") in {"unless-stopped", "always"}, name


def test_app_services_share_one_image_and_receive_the_contract_environment(
    config: dict[str, Any],
) -> None:
    images = {config["services"][name]["image"] for name in (*APP_SERVICES, "migrate")}
    assert len(images) == 1
    for name in APP_SERVICES:
        environment = config["services"][name]["environment"]
        missing = APP_ENVIRONMENT - set(environment)
        assert not missing, f"{name} lacks {missing}"
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert environment["SMTP_URL"] == "smtp://mailpit:1025"
        assert volumes(config["services"][name]) == {environment["REPORTS_DIR"]: ("reports", False)}


def test_env_example_lists_every_variable_with_the_compose_defaults() -> None:
    values, mentioned = env_example()
    source = COMPOSE_FILE.read_text(encoding="utf-8")
    defaults: dict[str, str] = {}
    for match in INTERPOLATION.finditer(source):
        name, default = match.group(1), match.group(2)
        assert default is not None, f"${{{name}}} has no default: the stack must start without .env"
        assert defaults.setdefault(name, default) == default, f"{name} has two defaults"
    assert set(defaults) == set(values), "docker-compose.yml and .env.example disagree"
    for name, default in defaults.items():
        assert values[name] == default, (
            f"{name}: {values[name]!r} in .env.example, {default!r} here"
        )
    assert APP_ENVIRONMENT | {"SIDEQUEST_SHUTDOWN_TIMEOUT"} <= set(values) | mentioned


def test_prometheus_and_grafana_mount_the_repository_config(config: dict[str, Any]) -> None:
    prometheus = {t: source for t, (source, _) in volumes(config["services"]["prometheus"]).items()}
    assert (
        Path(prometheus["/etc/prometheus/prometheus.yml"])
        == REPO / "infra/prometheus/prometheus.yml"
    )
    # rule_files in prometheus.yml are relative to it: the rules sit beside it.
    assert Path(prometheus["/etc/prometheus/rules.yml"]) == REPO / "infra/prometheus/rules.yml"
    command = config["services"]["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command

    grafana = {t: source for t, (source, _) in volumes(config["services"]["grafana"]).items()}
    provisioning = REPO / "infra/grafana/provisioning"
    assert Path(grafana["/etc/grafana/provisioning/datasources"]) == provisioning / "datasources"
    assert Path(grafana["/etc/grafana/provisioning/dashboards"]) == provisioning / "dashboards"
    dashboards_target = next(
        target
        for target, source in grafana.items()
        if Path(source) == REPO / "infra/grafana/dashboards"
    )
    for provider_file in (provisioning / "dashboards").glob("*.yml"):
        for provider in load_yaml(provider_file)["providers"]:
            assert provider["options"]["path"] == dashboards_target
    home = config["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_target + "/")
    assert (REPO / "infra/grafana/dashboards" / Path(home).name).is_file()


def test_the_application_accepts_the_compose_environment(config: dict[str, Any]) -> None:
    """The shop's own settings parser takes what the containers receive."""
    from shop.settings import ShopSettings

    for name in ("migrate", *APP_SERVICES):
        environment = config["services"][name]["environment"]
        settings = ShopSettings.from_env(environment)  # raises SettingsError on a bad value
        assert str(settings.results_dir) == environment["REPORTS_DIR"]
