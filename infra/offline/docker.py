"""The docker CLI calls of the build: inspect, build (classic builder), import, remove.

The classic builder (DOCKER_BUILDKIT=0): BuildKit would pull its Dockerfile frontend,
and this machine reaches no registry.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class DockerError(RuntimeError):
    pass


def _environment() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def _attempt(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A docker command run to its end, its output captured, whatever its exit status."""
    return subprocess.run(
        ["docker", *arguments], env=_environment(), capture_output=True, text=True, check=False
    )


def _run(arguments: Sequence[str]) -> str:
    result = _attempt(arguments)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise DockerError(f"docker {' '.join(arguments[:2])} failed ({result.returncode}) {detail}")
    return result.stdout


def require_daemon() -> None:
    try:
        _run(["info", "--format", "{{.ServerVersion}}"])
    except (DockerError, FileNotFoundError) as error:
        raise DockerError(f"the docker daemon does not answer: {error}") from error


def image_details(tag: str) -> tuple[str, dict[str, str]] | None:
    """(image id, labels) of a local image, or None when there is no such tag."""
    result = _attempt(["image", "inspect", "--format", "{{json .}}", tag])
    if result.returncode != 0:
        return None
    document = json.loads(result.stdout)
    labels = (document.get("Config") or {}).get("Labels") or {}
    return str(document["Id"]), {str(key): str(value) for key, value in labels.items()}


def build(
    context: Path,
    tag: str,
    *,
    labels: Mapping[str, str],
    build_args: Mapping[str, str],
    no_cache: bool,
    log: Path,
) -> None:
    """`docker build` of context/Dockerfile, its output written to `log`."""
    arguments = ["build", "--force-rm", "--tag", tag]
    if no_cache:
        arguments.append("--no-cache")
    for key, value in labels.items():
        arguments += ["--label", f"{key}={value}"]
    for key, value in build_args.items():
        arguments += ["--build-arg", f"{key}={value}"]
    with log.open("w", encoding="utf-8") as output:
        result = subprocess.run(
            ["docker", *arguments, str(context)],
            env=_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise DockerError(f"docker build of {tag} failed: see {log}\n{_tail(log)}")


def import_tree(root: Path, tag: str, *, changes: Sequence[str]) -> None:
    """`tar -C root -c . | docker import` with Dockerfile `changes` (ENV, CMD, LABEL)."""
    tar_command = [
        "tar",
        "--numeric-owner",
        "--xattrs",
        "--exclude=./proc/*",
        "--exclude=./sys/*",
        "--exclude=./dev/*",
        "-C",
        str(root),
        "-c",
        ".",
    ]
    import_command = ["docker", "import"]
    for change in changes:
        import_command += ["--change", change]
    import_command += ["-", tag]
    with subprocess.Popen(tar_command, stdout=subprocess.PIPE) as tar:
        imported = subprocess.run(
            import_command,
            stdin=tar.stdout,
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if tar.stdout is not None:
            tar.stdout.close()
        tar_status = tar.wait()
    if tar_status != 0 or imported.returncode != 0:
        raise DockerError(
            f"importing {root} as {tag} failed (tar {tar_status}, docker import "
            f"{imported.returncode}): {imported.stderr.strip()}"
        )


def remove_untagged(image_ids: list[str]) -> list[str]:
    """Remove those of `image_ids` that no tag names any more, children before their
    base (passes until one removes nothing). Returns the untagged ones that stay because
    a container, even a stopped one, uses them: worth another try later. Images gone
    already or tagged again since are dropped."""
    left = list(dict.fromkeys(image_ids))
    progress = True
    while left and progress:
        progress = False
        for image_id in list(left):
            tags = _tag_count(image_id)
            if tags is None or tags > 0 or _remove(image_id):
                left.remove(image_id)
                progress = True
    return left


def _tag_count(image_id: str) -> int | None:
    """How many tags name the image; None when there is no such image."""
    result = _attempt(["image", "inspect", "--format", "{{len .RepoTags}}", image_id])
    return int(result.stdout.strip()) if result.returncode == 0 else None


def _remove(image_id: str) -> bool:
    return _attempt(["image", "rm", image_id]).returncode == 0


def _tail(log: Path, lines: int = 25) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
