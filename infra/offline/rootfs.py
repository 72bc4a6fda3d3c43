"""The base image: a debootstrap minbase of bookworm with Python, imported into docker.

The tree is made in a temporary directory (removed afterwards, whatever happens),
given the host's apt sources and extra CA certificates, customised by
infra/offline/python/customize.sh in a chroot, and imported with `docker import`
and the image settings of IMPORT_CHANGES.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from infra.offline import docker
from infra.offline.apt_sources import RELEASE, AptSetup
from infra.offline.certificates import HOST_BUNDLE, extra_certificates

PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
CUSTOMIZE_SCRIPT = "customize.sh"
# The settings of the official python image the Compose file's Dockerfile relies on:
# an explicit PATH (`ENV PATH=/opt/venv/bin:$PATH` expands it at build time) and a
# UTF-8 locale.
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


class RootfsError(RuntimeError):
    pass


@dataclass(frozen=True)
class BaseRecipe:
    """Everything that decides the base's content, hashed into its label."""

    apt: AptSetup
    host_bundle: str

    def describe(self) -> str:
        return "\n".join(
            (
                f"debootstrap --variant=minbase --include={','.join(PACKAGES)} "
                f"{RELEASE} ROOT {self.apt.mirror}",
                "sources:",
                self.apt.sources_text,
                "changes:",
                *IMPORT_CHANGES,
                "host CA bundle:",
                self.host_bundle,
            )
        )


def host_bundle() -> str:
    path = Path(HOST_BUNDLE)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def build_base(
    recipe: BaseRecipe, script_dir: Path, tag: str, label: tuple[str, str], log: Path
) -> None:
    """debootstrap, customise and import the base as `tag` with the recipe label."""
    if os.geteuid() != 0:
        raise RootfsError("debootstrap needs root: run the build as root")
    if shutil.which("debootstrap") is None:
        raise RootfsError("debootstrap is not installed: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="sidequest-offline-rootfs-") as temporary:
        root = Path(temporary) / "root"
        try:
            with log.open("w", encoding="utf-8") as output:
                _debootstrap(root, recipe.apt.mirror, output)
                _configure(root, recipe, script_dir)
                _chroot_customize(root, output)
            docker.import_tree(root, tag, changes=(*IMPORT_CHANGES, f"LABEL {label[0]}={label[1]}"))
        finally:
            _unmount_below(root)


def _debootstrap(root: Path, mirror: str, output: IO[str]) -> None:
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        RELEASE,
        str(root),
        mirror,
    ]
    _checked(command, output, "debootstrap")


def _configure(root: Path, recipe: BaseRecipe, script_dir: Path) -> None:
    sources = root / "etc/apt/sources.list.d/debian.sources"
    sources.write_text(recipe.apt.sources_text, encoding="utf-8")
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    image_bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text(encoding="utf-8")
    local = root / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    for number, pem in enumerate(extra_certificates(recipe.host_bundle, image_bundle), 1):
        (local / f"sidequest-offline-host-{number:02d}.crt").write_text(pem, encoding="utf-8")
    shutil.copy2(script_dir / CUSTOMIZE_SCRIPT, root / "tmp" / CUSTOMIZE_SCRIPT)


def _chroot_customize(root: Path, output: IO[str]) -> None:
    try:
        _checked(["chroot", str(root), "/bin/sh", f"/tmp/{CUSTOMIZE_SCRIPT}"], output, "chroot")
    finally:
        (root / "tmp" / CUSTOMIZE_SCRIPT).unlink(missing_ok=True)


def _checked(command: list[str], output: IO[str], what: str) -> None:
    result = subprocess.run(
        command,
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"},
        check=False,
    )
    if result.returncode != 0:
        raise RootfsError(f"{what} failed with status {result.returncode}")


def _unmount_below(root: Path) -> None:
    """Unmount what a failed debootstrap left mounted in the tree (proc, sys, dev)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [
            line.split()[1].encode().decode("unicode_escape") for line in mounts if line.strip()
        ]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
