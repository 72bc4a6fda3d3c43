"""The settings of `make dev`, from the environment (read once, by `python -m infra.dev`).

| variable                   | meaning                                          | default       |
|----------------------------|--------------------------------------------------|---------------|
| DEV_DIR                    | where the dev stack keeps its data and logs      | var/dev       |
| REDIS_URL                  | use this Redis instead of starting redis-server  | (start one)   |
| WEB_HOST                   | IPv4 address gunicorn binds (see below)          | 127.0.0.1     |
| WEB_PORT                   | web app, dashboard and web /metrics              | 8000          |
| REDIS_PORT                 | the redis-server started here (not 6379, which   | 6390          |
|                            | a system Redis often holds)                      |               |
| METRICS_PORT               | merged metrics of the worker processes           | 9191          |
| PROMETHEUS_PORT            | Prometheus UI and API                            | 9090          |
| SMTP_PORT                  | the mail sink's SMTP port                        | 1025          |
| MAIL_PORT                  | the mail sink's page and API                     | 8025          |
| WORKER_PROCESSES           | worker processes started                         | 2             |
| SPARE_WORKER_PROCESSES     | more, defined but stopped (supervisorctl start)  | 2             |
| PROMETHEUS_SCRAPE_INTERVAL | scrape and rule evaluation interval              | 15s           |
| PROMETHEUS                 | the Prometheus binary                            | on PATH       |
| DEV_SEED_ORDERS            | orders generated into a new SQLite database      | 20000         |
| DEV_START_TIMEOUT          | seconds the stack may take to answer             | 90            |
| SIDEQUEST_WEB_DEV          | dashboard without a login; refused on a WEB_HOST | off           |
|                            | other machines reach (loopback: always on)       |               |

On a loopback WEB_HOST the dashboard is mounted in dev mode (no login); on any other
address it needs SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD, or the launcher
generates a login for the run and prints it.

Everything else in the environment (SIDEQUEST_CONCURRENCY, GUNICORN_WORKERS,
DATABASE_URL, SIDEQUEST_WEB_USERNAME/PASSWORD, ...) reaches the processes unchanged.
An empty variable counts as unset; on/off variables take 1/true/yes/on and
0/false/no/off in any case (`sidequest.flags`, the parser of every settings module). A
malformed variable stops the launcher with a message naming it (`DevConfigError`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sidequest.errors import ConfigError
from sidequest.flags import flag

REPO_ROOT = Path(__file__).resolve().parents[2]
_DURATION = re.compile(r"^([1-9][0-9]*)(ms|s|m)$")
# Characters that cannot be written safely into supervisord's INI file (its values
# are %-interpolated, quoted in `environment=`, and one line each).
_UNSAFE_IN_CONFIG = re.compile(r"[\"%\n\r,]")
# AF_UNIX socket paths are limited to 108 bytes on Linux.
_MAX_SOCKET_PATH = 100


class DevConfigError(ValueError):
    """A setting of `make dev` is malformed; the message names the variable."""


@dataclass(frozen=True)
class Ports:
    web: int = 8000
    redis: int = 6390
    worker_metrics: int = 9191
    prometheus: int = 9090
    smtp: int = 1025
    mail: int = 8025


PORT_VARIABLES = {
    "web": "WEB_PORT",
    "redis": "REDIS_PORT",
    "worker_metrics": "METRICS_PORT",
    "prometheus": "PROMETHEUS_PORT",
    "smtp": "SMTP_PORT",
    "mail": "MAIL_PORT",
}


@dataclass(frozen=True)
class DevSettings:
    """What the launcher was asked for.

    Attributes:
        root: The checkout (commands run from here).
        dev_dir: Absolute directory holding everything the stack writes.
        web_host: Address gunicorn binds.
        ports: Every port the stack listens on (Redis' only when it is started here).
        external_redis_url: REDIS_URL when set: no redis-server is started.
        worker_processes: Worker processes started with the stack.
        spare_worker_processes: Worker processes defined but left stopped.
        scrape_interval: Prometheus' scrape and evaluation interval (e.g. "15s").
        prometheus_binary: The Prometheus binary given by PROMETHEUS, if any.
        seed_orders: Orders generated into a newly created SQLite database.
        start_timeout: Seconds the stack may take until it answers.
        web_dev: SIDEQUEST_WEB_DEV asks for the dashboard without a login.
    """

    root: Path
    dev_dir: Path
    web_host: str
    ports: Ports
    external_redis_url: str | None
    worker_processes: int
    spare_worker_processes: int
    scrape_interval: str
    prometheus_binary: str | None
    seed_orders: int
    start_timeout: float
    web_dev: bool = False

    @property
    def web_on_loopback(self) -> bool:
        return is_loopback(self.web_host)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], root: Path = REPO_ROOT) -> DevSettings:
        """Read and check the variables in the module docstring.

        Raises:
            DevConfigError: A variable is malformed.
        """
        values = {key: value.strip() for key, value in environ.items() if value.strip()}
        dev_dir = (root / values.get("DEV_DIR", "var/dev")).resolve()
        if _UNSAFE_IN_CONFIG.search(str(dev_dir)):
            raise DevConfigError(
                f"DEV_DIR must not contain quotes, commas, % or line breaks: {dev_dir}"
            )
        if len(str(dev_dir / "run" / "supervisor.sock")) > _MAX_SOCKET_PATH:
            raise DevConfigError(
                f"DEV_DIR is too long for supervisord's control socket; use a shorter path "
                f"than {dev_dir}"
            )
        ports = Ports(
            **{
                field: _number(values, variable, getattr(Ports, field), 1, 65535)
                for field, variable in PORT_VARIABLES.items()
            }
        )
        taken: dict[int, str] = {}
        for field, variable in PORT_VARIABLES.items():
            port = getattr(ports, field)
            if field == "redis" and values.get("REDIS_URL"):
                continue
            if port in taken:
                raise DevConfigError(f"{variable} and {taken[port]} are both {port}")
            taken[port] = variable
        web_host = values.get("WEB_HOST", "127.0.0.1")
        _check_host(web_host)
        return cls(
            root=root,
            dev_dir=dev_dir,
            web_host=web_host,
            ports=ports,
            external_redis_url=values.get("REDIS_URL"),
            worker_processes=_number(values, "WORKER_PROCESSES", 2, 1, 64),
            spare_worker_processes=_number(values, "SPARE_WORKER_PROCESSES", 2, 0, 64),
            scrape_interval=_duration(values, "PROMETHEUS_SCRAPE_INTERVAL", "15s"),
            prometheus_binary=values.get("PROMETHEUS"),
            seed_orders=_number(values, "DEV_SEED_ORDERS", 20_000, 0, 10_000_000),
            start_timeout=float(_number(values, "DEV_START_TIMEOUT", 90, 5, 3600)),
            web_dev=_flag(values, "SIDEQUEST_WEB_DEV"),
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def duration_seconds(text: str) -> float:
    """Seconds of a duration written as Prometheus writes them here ("500ms", "15s", "1m")."""
    match = _DURATION.match(text)
    if match is None:
        raise DevConfigError(f"not a duration: {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return amount * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def _number(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = values.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise DevConfigError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _flag(values: Mapping[str, str], name: str) -> bool:
    try:
        return flag(values, name)
    except ConfigError as error:
        raise DevConfigError(str(error)) from None


def _duration(values: Mapping[str, str], name: str, default: str) -> str:
    text = values.get(name, default)
    if _DURATION.match(text) is None or duration_seconds(text) < 0.1:
        raise DevConfigError(
            f"{name} must be a duration such as 1s, 15s or 1m (at least 100ms), got {text!r}"
        )
    return text


def _check_host(host: str) -> None:
    if host == "localhost":
        return
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise DevConfigError(
            f"WEB_HOST must be an IPv4 address (127.0.0.1, 0.0.0.0, ...) or localhost, got {host!r}"
        ) from None
