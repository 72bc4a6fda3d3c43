"""A description of the machine, for the report's header."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

from bench.envs import output_of


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine shows here."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def describe(redis_version: str) -> dict[str, str]:
    ruby = output_of(["ruby", "--version"]) or "not installed"
    return {
        "host": socket.gethostname(),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": _os_name(),
        "kernel": platform.release(),
        "Python (harness and Python peers)": platform.python_version(),
        "Ruby": ruby,
        "Redis": f"{redis_version}, a redis-server started by the suite (no persistence)",
        "load average at start (1, 5, 15 min)": load_average(),
    }
