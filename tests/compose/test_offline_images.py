"""The stand-in images of infra/offline, built for real and run as docker-compose.yml runs
the official ones: each test starts containers on a network of its own making and
checks what the Compose file and the stack rely on (health checks, volumes, users,
logins from other containers, DNS discovery, the mail API).

Every container, volume and network gets a name with this session's unique prefix and
is removed in a finally, whatever the test's outcome. Traffic goes only to those
containers and to ports they publish on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from infra.offline.certificates import HOST_BUNDLE, pem_blocks
from infra.offline.images import IMAGES, by_name
from infra.offline.recipe import LABEL
from tests.compose.observe import docker
from tests.stack.clients import MailSink
from tests.support.polling import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
PREFIX = f"sq-offline-test-{uuid.uuid4().hex[:8]}"
PYTHON = by_name("python").tag
REDIS = by_name("redis").tag
POSTGRES = by_name("postgres").tag
PROMETHEUS = by_name("prometheus").tag
MAILCATCHER = by_name("mailcatcher").tag
BUILD_TIMEOUT = 1800
START_TIMEOUT = 60


def succeeds(*arguments: str, timeout: float = 30) -> bool:
    result = subprocess.run(
        ["docker", *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode == 0


class Containers:
    """Containers and volumes of one test, all named PREFIX-..., removed by `remove_all`."""

    def __init__(self, network: str):
        self.network = network
        self.containers: list[str] = []
        self.volumes: list[str] = []

    def volume(self, suffix: str) -> str:
        name = f"{PREFIX}-{suffix}"
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(self, suffix: str, image: str, *command: str, options: tuple[str, ...] = ()) -> str:
        """`docker run -d` on the test network; returns the container's name."""
        name = f"{PREFIX}-{suffix}"
        self.containers.append(name)
        docker("run", "-d", "--name", name, "--network", self.network, *options, image, *command)
        return name

    def run_once(
        self, suffix: str, image: str, *command: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`docker run --rm` of a client on the test network (named, so it can be removed)."""
        name = f"{PREFIX}-{suffix}"
        self.containers.append(name)
        result = subprocess.run(
            ["docker", "run", "--rm", "--name", name, "--network", self.network, image, *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} in {image} failed: {result.stderr}")
        return result

    def stop(self, name: str) -> int:
        """`docker stop` (the image's STOPSIGNAL, then SIGKILL after 10 s); the exit code."""
        docker("stop", name, timeout=60)
        return int(docker("inspect", "--format", "{{.State.ExitCode}}", name).strip())

    def remove_all(self) -> None:
        for name in reversed(self.containers):
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
        for name in self.volumes:
            subprocess.run(["docker", "volume", "rm", name], capture_output=True, check=False)


def exec_output(container: str, *command: str) -> str:
    return docker("exec", container, *command).strip()


def ip_address(container: str) -> str:
    networks = json.loads(
        docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)
    )
    return str(next(iter(networks.values()))["IPAddress"])


def logs(container: str) -> str:
    result = subprocess.run(
        ["docker", "logs", container], capture_output=True, text=True, timeout=30, check=False
    )
    return result.stdout + result.stderr


# ------------------------------------------------------------------------------ fixtures


def run_build() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.offline", "build"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="session")
def offline_images() -> str:
    """The stand-in images, built (or taken from the cache); returns the build's output.
    (conftest's autouse `docker_daemon` has made sure a daemon answers.)"""
    result = run_build()
    assert result.returncode == 0, f"the build failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def network(offline_images: str) -> Iterator[str]:
    name = f"{PREFIX}-net"
    docker("network", "create", name)
    try:
        yield name
    finally:
        subprocess.run(["docker", "network", "rm", name], capture_output=True, check=False)


@pytest.fixture
def containers(network: str) -> Iterator[Containers]:
    created = Containers(network)
    try:
        yield created
    finally:
        created.remove_all()


# ---------------------------------------------------------------------------- the build


def test_the_build_makes_every_image_and_a_second_build_takes_them_from_the_cache(
    offline_images: str,
) -> None:
    assert [line.split()[0] for line in offline_images.splitlines()] == [s.tag for s in IMAGES]
    again = run_build()
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"{spec.tag:<42} cached" for spec in IMAGES]
    for spec in IMAGES:
        labels = json.loads(
            docker("image", "inspect", "--format", "{{json .Config.Labels}}", spec.tag)
        )
        assert labels[LABEL].startswith("sha256:"), spec.tag


# ------------------------------------------------------------------------------- python


def test_python_has_a_working_venv_the_user_tools_and_the_host_ca_certificates(
    containers: Containers,
) -> None:
    script = (
        "python -m venv /tmp/venv && /tmp/venv/bin/pip --version"
        " && /tmp/venv/bin/python -c 'import pip._vendor.certifi as c; print(c.where())'"
        " && command -v groupadd && command -v useradd && echo LANG=$LANG"
    )
    output = containers.run_once("python-venv", PYTHON, "sh", "-c", script).stdout
    assert "python 3.11" in output
    assert "/etc/ssl/certs/ca-certificates.crt" in output, "pip must read the system bundle"
    assert "/usr/sbin/groupadd" in output and "/usr/sbin/useradd" in output
    assert "LANG=C.UTF-8" in output
    bundle = containers.run_once(
        "python-ca", PYTHON, "cat", "/etc/ssl/certs/ca-certificates.crt"
    ).stdout
    host = Path(HOST_BUNDLE)
    if host.is_file():
        missing = set(pem_blocks(host.read_text())) - set(pem_blocks(bundle))
        assert not missing, f"{len(missing)} of the host's CA certificates are not in the image"


# -------------------------------------------------------------------------------- redis


def wait_for_pong(container: str) -> None:
    wait_for(
        lambda: docker("exec", container, "redis-cli", "ping", check=False).strip() == "PONG",
        timeout=START_TIMEOUT,
        interval=0.2,
        message=f"PONG from {container}",
    )


def test_redis_answers_ping_and_keeps_a_key_across_a_restart_on_the_same_volume(
    containers: Containers,
) -> None:
    volume = containers.volume("redis-data")
    mounts = (
        "-v",
        f"{REPO / 'infra/redis/redis.conf'}:/usr/local/etc/redis/redis.conf:ro",
        "-v",
        f"{volume}:/data",
    )
    # As docker-compose.yml runs it.
    first = containers.start(
        "redis-1", REDIS, "redis-server", "/usr/local/etc/redis/redis.conf", options=mounts
    )
    wait_for_pong(first)
    assert exec_output(first, "redis-cli", "set", "offline:key", "kept") == "OK"
    redis_uid = exec_output(first, "id", "-u", "redis")
    status = exec_output(first, "cat", "/proc/1/status")
    assert f"Uid:\t{redis_uid}\t" in status, "redis-server must run as user redis"
    assert "appendonly.aof.manifest" in exec_output(first, "ls", "/data/appendonlydir")
    assert containers.stop(first) == 0

    # A new container on the same volume; a bare .conf argument gets redis-server
    # prepended, as the official entrypoint does.
    second = containers.start("redis-2", REDIS, "/usr/local/etc/redis/redis.conf", options=mounts)
    wait_for_pong(second)
    assert exec_output(second, "redis-cli", "get", "offline:key") == "kept"


# ----------------------------------------------------------------------------- postgres


def wait_for_postgres(container: str, user: str, database: str) -> None:
    # The Compose file's health check: over TCP, so the first start's socket-only
    # initialisation server does not count.
    wait_for(
        lambda: succeeds(
            "exec", container, "pg_isready", "-h", "127.0.0.1", "-U", user, "-d", database
        ),
        timeout=START_TIMEOUT,
        interval=0.3,
        message=f"pg_isready in {container}",
    )


def test_postgres_initialises_once_and_takes_password_logins_from_other_containers(
    containers: Containers,
) -> None:
    volume = containers.volume("pg-data")
    environment = ("-e", "POSTGRES_USER=offline", "-e", "POSTGRES_DB=shop")
    data = ("-v", f"{volume}:/var/lib/postgresql/data")
    first = containers.start(
        "pg-1", POSTGRES, options=(*environment, "-e", "POSTGRES_PASSWORD=s3cret", *data)
    )
    wait_for_postgres(first, "offline", "shop")
    url = f"postgresql://offline:s3cret@{first}/shop"

    def psql(suffix: str, target: str, sql: str, check: bool = True) -> str:
        result = containers.run_once(
            suffix, POSTGRES, "psql", target, "-v", "ON_ERROR_STOP=1", "-tAc", sql, check=check
        )
        return (result.stdout + result.stderr).strip()

    assert psql("psql-encoding", url, "SHOW server_encoding") == "UTF8"
    psql("psql-write", url, "CREATE TABLE kept (word text); INSERT INTO kept VALUES ('héllo')")
    refused = psql("psql-wrong", f"postgresql://offline:wrong@{first}/shop", "SELECT 1", False)
    assert "password authentication failed" in refused
    assert containers.stop(first) == 0, "SIGINT: a fast, clean shutdown"
    assert "database system is shut down" in logs(first)

    # The same volume again, with another password: no new initialisation, so the data
    # and the first password stay.
    second = containers.start(
        "pg-2", POSTGRES, options=(*environment, "-e", "POSTGRES_PASSWORD=other", *data)
    )
    wait_for_postgres(second, "offline", "shop")
    assert "skipping initialization" in logs(second)
    url = f"postgresql://offline:s3cret@{second}/shop"
    assert psql("psql-read", url, "SELECT word FROM kept") == "héllo"


def test_postgres_defaults_to_user_and_database_postgres(containers: Containers) -> None:
    server = containers.start("pg-defaults", POSTGRES, options=("-e", "POSTGRES_PASSWORD=pw"))
    wait_for_postgres(server, "postgres", "postgres")
    result = containers.run_once(
        "psql-defaults",
        POSTGRES,
        "psql",
        f"postgresql://postgres:pw@{server}/postgres",
        "-tAc",
        "SELECT current_user || ' ' || current_database()",
    )
    assert result.stdout.strip() == "postgres postgres"


def test_postgres_refuses_to_initialise_without_a_password(containers: Containers) -> None:
    result = containers.run_once("pg-nopassword", POSTGRES, check=False)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD is not set" in result.stderr


# --------------------------------------------------------------------------- prometheus


def test_prometheus_is_healthy_runs_as_nobody_and_discovers_compose_services(
    containers: Containers,
) -> None:
    # A stand-in for a worker replica: Docker's DNS answers `worker` with its address,
    # as it does for the Compose service.
    worker = containers.start(
        "worker", PYTHON, "python3", "-m", "http.server", "9191",
        options=("--network-alias", "worker"),
    )  # fmt: skip
    volume = containers.volume("prometheus-data")
    prometheus = containers.start(
        "prometheus",
        PROMETHEUS,
        # docker-compose.yml's command and volumes.
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=15d",
        "--web.enable-lifecycle",
        options=(
            "-v", f"{REPO / 'infra/prometheus/prometheus.yml'}:/etc/prometheus/prometheus.yml:ro",
            "-v", f"{REPO / 'infra/prometheus/rules.yml'}:/etc/prometheus/rules.yml:ro",
            "-v", f"{volume}:/prometheus",
        ),
    )  # fmt: skip
    healthy = ("exec", prometheus, "wget", "-q", "--spider", "http://127.0.0.1:9090/-/healthy")
    wait_for(lambda: succeeds(*healthy), timeout=START_TIMEOUT, interval=0.3, message="healthy")
    assert exec_output(prometheus, "id", "-u") == "65534"
    assert exec_output(prometheus, "stat", "-c", "%U", "/prometheus") == "nobody"
    assert "wal" in exec_output(prometheus, "ls", "/prometheus")

    expected = f"http://{ip_address(worker)}:9191/metrics"

    def worker_discovered() -> bool:
        targets = json.loads(
            exec_output(prometheus, "wget", "-qO-", "http://127.0.0.1:9090/api/v1/targets")
        )
        urls = [target["scrapeUrl"] for target in targets["data"]["activeTargets"]]
        return expected in urls

    wait_for(worker_discovered, timeout=45, interval=0.5, message=f"target {expected}")
    assert containers.stop(prometheus) == 0


# ------------------------------------------------------------------------------ mailpit


def test_the_mail_catcher_is_healthy_and_shows_a_mail_sent_from_another_container(
    containers: Containers,
) -> None:
    # The image's own HEALTHCHECK, run every second instead of every 15 s.
    catcher = containers.start(
        "mailpit",
        MAILCATCHER,
        options=("--health-interval", "1s", "--publish", "127.0.0.1::8025"),
    )

    def health() -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", catcher).strip()

    wait_for(lambda: health() == "healthy", timeout=START_TIMEOUT, interval=0.3, message="healthy")
    message = EmailMessage()
    message["From"] = "shop@shop.test"
    message["To"] = "ana@example.org"
    message["Subject"] = "Your report is ready"
    message.set_content("Report attached.")
    send = (
        "import smtplib, sys\n"
        f"with smtplib.SMTP({catcher!r}, 1025, timeout=10) as client:\n"
        "    client.sendmail('shop@shop.test', ['ana@example.org'], sys.argv[1].encode())\n"
    )
    containers.run_once("smtp-client", PYTHON, "python3", "-c", send, message.as_string())

    host_port = docker("port", catcher, "8025/tcp").splitlines()[0].rsplit(":", 1)[1]
    sink = MailSink(f"http://127.0.0.1:{host_port}")
    [mail] = sink.wait_for_mail_to("ana@example.org", 1, timeout=30)
    assert mail.subject == "Your report is ready"
    assert sink.message(mail.id).get_content().strip() == "Report attached."
    assert containers.stop(catcher) == 0, "SIGTERM stops the sink cleanly"
