"""Checks made before anything starts: the binaries are there and the ports are free.

A port already taken would otherwise surface as one program going FATAL among a dozen
log files; here it is one line naming the port and the variable that moves it.
"""

from __future__ import annotations

import errno
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from infra.dev.programs import Binaries
from infra.dev.settings import DevConfigError, DevSettings

# Debian installs these outside a normal user's PATH on some setups.
_EXTRA_DIRS = (Path("/usr/sbin"), Path("/usr/bin"))


def which(command: str) -> str | None:
    found = shutil.which(command)
    if found:
        return found
    for directory in _EXTRA_DIRS:
        candidate = directory / command
        if candidate.is_file():
            return str(candidate)
    return None


def find_binaries(settings: DevSettings) -> tuple[Binaries, list[str]]:
    """The binaries the stack will use, and notes about what it runs without.

    Raises:
        DevConfigError: redis-server is needed but missing, or PROMETHEUS names no file.
    """
    notes: list[str] = []
    redis_server = None
    if settings.external_redis_url is None:
        redis_server = which("redis-server")
        if redis_server is None:
            raise DevConfigError(
                "redis-server is not installed: install the Debian package redis-server "
                "(`make dev` does, as root), or set REDIS_URL to a running Redis"
            )
    if settings.prometheus_binary is not None:
        prometheus = which(settings.prometheus_binary)
        if prometheus is None:
            raise DevConfigError(f"PROMETHEUS names no program: {settings.prometheus_binary!r}")
    else:
        prometheus = which("prometheus")
        if prometheus is None:
            notes.append(
                "Prometheus is not installed (Debian package prometheus): running without it"
            )
    return Binaries(python=sys.executable, redis_server=redis_server, prometheus=prometheus), notes


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # What the servers themselves set: a port in TIME_WAIT is free for them too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def check_ports(wanted: Mapping[str, int], web_host: str) -> None:
    """Raise DevConfigError naming every port that something else already uses."""
    busy = []
    for variable, port in wanted.items():
        host = web_host if variable == "WEB_PORT" and web_host != "localhost" else "127.0.0.1"
        if not port_is_free(port, host):
            busy.append(f"{port} ({variable})")
    if busy:
        hint = ""
        if any("PROMETHEUS_PORT" in entry for entry in busy):
            hint = (
                "; the Debian prometheus package may have started its own service "
                "(`service prometheus stop`)"
            )
        raise DevConfigError(
            f"already in use: {', '.join(busy)}; stop what listens there or set the "
            f"variable to another port (is another `make dev` running?){hint}"
        )
