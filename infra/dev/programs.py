"""What supervisord runs in the dev stack, and in which order it starts and stops them.

supervisord starts groups by ascending priority and stops them one group after another
by descending priority, all processes of a group in parallel, with up to a second's
tick between groups. So:

    group      programs                              priority
    procwatch  the event listener                    1     first up, last down: sees every exit
    redis      redis-server                          10    up before its users, down after them
    services   mail sink, Prometheus, worker metrics 30    independent of each other
    web        gunicorn                              50
    workers    worker_NN, spare_NN                   100   down first, in parallel: on SIGTERM
                                                           they finish or push back their jobs,
                                                           which needs Redis still up
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.dev.layout import Layout
from infra.dev.settings import DevSettings

# Seconds a dev worker waits for running jobs on Ctrl-C before pushing them back
# (Compose uses 25; here a developer is waiting at the terminal).
DEV_SHUTDOWN_TIMEOUT = 10
# Seconds gunicorn lets requests finish on Ctrl-C.
DEV_GRACEFUL_TIMEOUT = 5
SERVICES = "services"
WORKERS = "workers"


@dataclass(frozen=True)
class Program:
    """One [program:x] (or [eventlistener:x]) section.

    Attributes:
        name: Program name.
        group: The supervisord group it belongs to (its own name when alone).
        command: The program and its arguments.
        priority: Start order (ascending) and stop order (descending).
        environment: Variables added to supervisord's own environment.
        numprocs: Copies.
        numbered: Process names get a _00, _01 ... suffix (the worker programs).
        autostart: Started with supervisord (spares are not).
        stopwaitsecs: Seconds between SIGTERM and SIGKILL.
        startsecs: Seconds a process must stay up to count as started.
        listener_events: For an event listener: the events it subscribes to.
    """

    name: str
    command: tuple[str, ...]
    priority: int
    group: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    numprocs: int = 1
    numbered: bool = False
    autostart: bool = True
    stopwaitsecs: int = 10
    startsecs: int = 1
    listener_events: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.group:
            object.__setattr__(self, "group", self.name)

    def process_names(self) -> list[str]:
        """supervisorctl's group:name of each process."""
        if not self.numbered:
            return [f"{self.group}:{self.name}"]
        return [f"{self.group}:{self.name}_{n:02d}" for n in range(self.numprocs)]


def stack_environment(
    settings: DevSettings, layout: Layout, base: Mapping[str, str], secret_key: str
) -> dict[str, str]:
    """The environment every program gets (supervisord passes its own on).

    Settings the user exported win over the dev defaults set here, except the ones
    that follow from the stack's own topology (where Redis, SMTP and the data are).
    """
    ports = settings.ports
    environment = {key: value for key, value in base.items() if value.strip()}
    defaults = {
        "DATABASE_URL": f"sqlite:///{layout.database}",
        "REPORTS_DIR": str(layout.reports),
        "APP_BASE_URL": f"http://127.0.0.1:{ports.web}",
        "SECRET_KEY": secret_key,
        "SIDEQUEST_SHUTDOWN_TIMEOUT": str(DEV_SHUTDOWN_TIMEOUT),
        "GUNICORN_GRACEFUL_TIMEOUT": str(DEV_GRACEFUL_TIMEOUT),
    }
    for key, value in defaults.items():
        environment.setdefault(key, value)
    environment.update(
        {
            "REDIS_URL": settings.external_redis_url or f"redis://127.0.0.1:{ports.redis}/0",
            "SMTP_URL": f"smtp://127.0.0.1:{ports.smtp}",
            # Migrations ran once before supervisord started.
            "MIGRATE_ON_START": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def shutdown_timeout(environment: Mapping[str, str]) -> int:
    text = environment.get("SIDEQUEST_SHUTDOWN_TIMEOUT", str(DEV_SHUTDOWN_TIMEOUT))
    return int(float(text)) if text.replace(".", "", 1).isdigit() else DEV_SHUTDOWN_TIMEOUT


def graceful_timeout(environment: Mapping[str, str]) -> int:
    text = environment.get("GUNICORN_GRACEFUL_TIMEOUT", str(DEV_GRACEFUL_TIMEOUT))
    return int(text) if text.isdigit() else DEV_GRACEFUL_TIMEOUT


@dataclass(frozen=True)
class Binaries:
    """The programs found on this machine (see `preflight.find_binaries`).

    Attributes:
        python: The interpreter of the project's virtual environment.
        redis_server: redis-server, or None when REDIS_URL names another Redis.
        prometheus: prometheus, or None to run without it.
    """

    python: str = sys.executable
    redis_server: str | None = None
    prometheus: str | None = None


def build_programs(
    settings: DevSettings, layout: Layout, environment: Mapping[str, str], binaries: Binaries
) -> list[Program]:
    """Every program of the stack, in start order.

    Args:
        settings: The launcher's settings.
        layout: Where the stack's files live.
        environment: The stack environment (see `stack_environment`).
        binaries: What runs them.
    """
    python = binaries.python
    ports = settings.ports
    root = settings.root
    worker_env = {"PROMETHEUS_MULTIPROC_DIR": str(layout.multiproc_worker)}
    # Workers finish or requeue their jobs within the shutdown timeout, then exit.
    worker_stop = shutdown_timeout(environment) + 5
    programs = [
        Program(
            name="procwatch",
            command=(python, str(root / "infra/supervisor/listener.py")),
            priority=1,
            environment=worker_env,
            stopwaitsecs=5,
            listener_events=(
                "PROCESS_STATE_EXITED",
                "PROCESS_STATE_BACKOFF",
                "PROCESS_STATE_FATAL",
            ),
        )
    ]
    if binaries.redis_server is not None:
        programs.append(
            Program(
                name="redis",
                # The Compose stack's file (AOF everysec, noeviction), moved to loopback,
                # this port and DEV_DIR/redis.
                command=(
                    binaries.redis_server,
                    str(root / "infra/redis/redis.conf"),
                    *("--bind", "127.0.0.1", "--protected-mode", "yes"),
                    *("--port", str(ports.redis), "--dir", str(layout.redis)),
                ),
                priority=10,
                stopwaitsecs=30,  # time to fsync the AOF
            )
        )
    programs.append(
        Program(
            name="mail",
            group=SERVICES,
            command=(
                *(python, "-m", "infra.dev.mailsink"),
                *("--smtp-port", str(ports.smtp), "--http-port", str(ports.mail)),
                *("--maildir", str(layout.mail)),
            ),
            priority=30,
        )
    )
    if binaries.prometheus is not None:
        programs.append(
            Program(
                name="prometheus",
                group=SERVICES,
                command=(
                    binaries.prometheus,
                    f"--config.file={layout.prometheus_config}",
                    f"--storage.tsdb.path={layout.prometheus_data}",
                    "--storage.tsdb.retention.time=7d",
                    f"--web.listen-address=127.0.0.1:{ports.prometheus}",
                ),
                priority=30,
                stopwaitsecs=20,
            )
        )
    programs += [
        Program(
            name="worker_metrics",
            group=SERVICES,
            command=(python, "-m", "worker.metrics"),
            priority=30,
            environment={
                **worker_env,
                "METRICS_HOST": "127.0.0.1",
                "METRICS_PORT": str(ports.worker_metrics),
            },
            stopwaitsecs=5,
        ),
        Program(
            name="web",
            command=(
                python,
                "-m",
                "gunicorn",
                "-c",
                str(root / "web/gunicorn.conf.py"),
                "web.wsgi:app",
            ),
            priority=50,
            environment={
                "PROMETHEUS_MULTIPROC_DIR": str(layout.multiproc_web),
                "BIND": f"{settings.web_host}:{ports.web}",
            },
            stopwaitsecs=graceful_timeout(environment) + 5,
            startsecs=2,
        ),
        Program(
            name="worker",
            group=WORKERS,
            command=(python, "-m", "worker"),
            priority=100,
            environment=worker_env,
            numprocs=settings.worker_processes,
            numbered=True,
            stopwaitsecs=worker_stop,
            startsecs=2,
        ),
    ]
    if settings.spare_worker_processes:
        programs.append(
            Program(
                name="spare",
                group=WORKERS,
                command=(python, "-m", "worker"),
                priority=100,
                environment=worker_env,
                numprocs=settings.spare_worker_processes,
                numbered=True,
                autostart=False,
                stopwaitsecs=worker_stop,
                startsecs=2,
            )
        )
    return programs


def listen_addresses(settings: DevSettings, prometheus: bool) -> dict[str, int]:
    """{variable naming the port: port} of everything the stack will listen on."""
    ports = settings.ports
    wanted = {
        "WEB_PORT": ports.web,
        "METRICS_PORT": ports.worker_metrics,
        "SMTP_PORT": ports.smtp,
        "MAIL_PORT": ports.mail,
    }
    if settings.external_redis_url is None:
        wanted["REDIS_PORT"] = ports.redis
    if prometheus:
        wanted["PROMETHEUS_PORT"] = ports.prometheus
    return wanted
