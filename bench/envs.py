"""Installing what each system needs: a virtual environment per Python peer, Debian packages.

A peer's environment lives in bench/.venvs/<name>, built from the pinned
bench/requirements/<name>.txt on first use and rebuilt only when that file
changes (its hash is stamped inside the environment).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


class Unavailable(Exception):
    """A system cannot run on this machine; the message says why and how to fix it."""


def _stamp(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_venv(venv: Path, requirements: Path, log: Path) -> Path:
    """Create or refresh venv from requirements; return its bin directory."""
    stamp_file = venv / ".bench-requirements.sha256"
    wanted = _stamp(requirements)
    bin_dir = venv / "bin"
    if stamp_file.exists() and stamp_file.read_text().strip() == wanted:
        return bin_dir
    print(f"  installing {requirements.name} into {venv} …", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        if not (bin_dir / "python").exists():
            # sys.executable may be a venv's python; venv resolves to its base interpreter.
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=out
            )
        result = subprocess.run(
            [
                str(bin_dir / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            stdout=out,
            stderr=out,
            check=False,
        )
    if result.returncode != 0:
        raise Unavailable(f"pip install -r {requirements} failed; see {log}")
    stamp_file.write_text(wanted + "\n")
    return bin_dir


def _apt_install(package: str, log: Path) -> None:
    print(f"  installing Debian package {package} …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        ):
            if subprocess.run(argv, env=env, stdout=out, stderr=out, check=False).returncode:
                raise Unavailable(f"{' '.join(argv)} failed; see {log}")


def ensure_debian_package(command: str, package: str, log: Path) -> str:
    """Path of command, installing the Debian package that ships it when missing."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise Unavailable(f"{command} is missing: sudo apt-get install -y {package}")
    _apt_install(package, log)
    found = shutil.which(command)
    if not found:
        raise Unavailable(f"{package} installed but {command} is not on PATH")
    return found


def _dpkg_installed(package: str) -> bool:
    status = output_of(["dpkg-query", "-W", "-f=${Status}", package])
    return status.endswith("ok installed")


def ensure_debian_library(package: str, log: Path) -> None:
    """Install a Debian package that ships no command (a Ruby library), when missing."""
    if _dpkg_installed(package):
        return
    if os.geteuid() != 0:
        raise Unavailable(f"{package} is missing: sudo apt-get install -y {package}")
    _apt_install(package, log)
    if not _dpkg_installed(package):
        raise Unavailable(f"apt-get installed {package} but dpkg does not list it")


def output_of(argv: list[str], env: dict[str, str] | None = None) -> str:
    """stdout of a short command, or '' when it fails (used for version strings)."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
