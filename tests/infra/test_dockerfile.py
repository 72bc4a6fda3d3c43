"""Dockerfile and .dockerignore: hadolint-clean, multi-stage, non-root, exec form."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import REPO

# Directories never searched for Dockerfiles (virtual environments, caches, VCS).
SKIP_DIRS = {".git", ".venv", "venv", ".venvs", "node_modules", "__pycache__", ".mypy_cache"}


def dockerfiles() -> list[Path]:
    found: list[Path] = []
    for directory, subdirs, files in os.walk(REPO):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS]
        found += [
            Path(directory) / f for f in files if f == "Dockerfile" or f.endswith(".Dockerfile")
        ]
    return sorted(found)


# The stand-in images of infra/offline copy from their own folders and stand in for
# third-party images: only the app's image must be multi-stage, slim and built from the
# repository's context.
OFFLINE = REPO / "infra" / "offline"


def app_dockerfiles() -> list[Path]:
    return [path for path in dockerfiles() if OFFLINE not in path.parents]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    result: list[tuple[str, str]] = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` (relative, with /) out of the build context.

    Docker's rules: the last pattern matching the path or one of its parent
    directories wins; `!` re-includes; `*` stays within one path segment, `**`
    spans any number of them.
    """
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def copy_sources(dockerfile: Path) -> list[str]:
    """Build-context paths the Dockerfile copies (COPY without --from)."""
    sources: list[str] = []
    for keyword, arguments in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in arguments:
            continue
        words = [w for w in arguments.split() if not w.startswith("--")]
        sources += [w.rstrip("/") for w in words[:-1]]
    return sources


def test_every_dockerfile_passes_hadolint(hadolint: Path) -> None:
    files = dockerfiles()
    assert REPO / "Dockerfile" in files
    for dockerfile in files:
        # Strictest threshold: style, info and warning findings all fail.
        result = subprocess.run(
            [str(hadolint), "--no-color", "--failure-threshold", "style", str(dockerfile)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{dockerfile}:\n{result.stdout}{result.stderr}"


def test_no_hadolint_rule_is_silenced_without_a_reason() -> None:
    for dockerfile in dockerfiles():
        lines = dockerfile.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "hadolint ignore" in line:
                previous = lines[number - 1] if number else ""
                assert previous.lstrip().startswith("#") and "hadolint" not in previous, (
                    f"{dockerfile}:{number + 1}: explain an ignored rule in the comment above it"
                )
    assert not (REPO / ".hadolint.yaml").exists() and not (REPO / ".hadolint.yml").exists()


@pytest.mark.parametrize("dockerfile", app_dockerfiles(), ids=lambda p: str(p.relative_to(REPO)))
def test_image_is_multi_stage_slim_non_root_and_exec_form(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    bases = [a.split()[0] for k, a in steps if k == "FROM"]
    assert len(bases) >= 2, "multi-stage: build in one stage, run in a smaller one"
    for written in bases:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), written)
        if ":" in base:
            assert re.search(r":\d+\.\d+\.\d+-slim", base), f"{base} is not a pinned slim tag"
    users = [a for k, a in steps if k == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]}: use a numeric non-root uid"
    for keyword in ("CMD", "ENTRYPOINT"):
        for arguments in (a for k, a in steps if k == keyword):
            assert isinstance(json.loads(arguments), list), f"{keyword} must be in exec (JSON) form"


def test_dockerignore_keeps_heavy_and_secret_paths_out() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "bench/.venvs/rq/bin/python",
        "bench/.work/x",
        "test-artifacts/screenshot.png",
        "tests/unit/test_x.py",
        ".pytest_cache/v",
        ".env",
        "var/sidequest.db",
        "services/sidequest/__pycache__/job.cpython-311.pyc",
        "web/static/.venv/x",
        "node_modules/x/index.js",
        "dist/sidequest-0.1.0-py3-none-any.whl",
        "services/dist/sidequest-0.1.0.tar.gz",
        "services/build/lib/sidequest/job.py",
    ):
        assert dockerignore_excludes(path, patterns), f"{path} would be sent to the build"
    for path in (
        "pyproject.toml",
        "README.md",
        "services/pyproject.toml",
        "services/README.md",
        "services/sidequest/job.py",
        "services/sidequest/lua/exchange.lua",
        "services/shop/alembic.ini",
        "worker/supervisord.conf",
        "worker/sidequest.yml",
    ):
        assert not dockerignore_excludes(path, patterns), f"{path} is missing from the build"


@pytest.mark.parametrize("dockerfile", app_dockerfiles(), ids=lambda p: str(p.relative_to(REPO)))
def test_everything_the_dockerfile_copies_is_in_the_build_context(dockerfile: Path) -> None:
    patterns = dockerignore_patterns()
    for source in copy_sources(dockerfile):
        assert not dockerignore_excludes(source, patterns), f".dockerignore hides {source}"
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"


def test_image_installs_both_distributions_as_wheels_at_the_locked_versions() -> None:
    """The app image holds the sidequest and sidequest-shop wheels (tests/packaging checks
    what is in them), installed without resolving: every dependency comes from the lock
    file, and `pip check` proves the lock satisfies both distributions."""
    runs = [a for k, a in instructions(REPO / "Dockerfile") if k == "RUN"]
    (install,) = [a for a in runs if "pip wheel" in a]
    wheel, *rest = (step.strip() for step in install.split("&&"))
    assert wheel.split()[-2:] == ["./services", "."], wheel
    assert "--no-deps" in wheel.split()
    assert rest[0].startswith("pip install") and "--no-deps" in rest[0].split(), rest
    assert rest[0].endswith(".whl"), rest
    assert rest[-1] == "pip check"
    assert any(a.endswith("-r requirements/app.lock") for a in runs)


def test_entrypoint_is_executable_and_execs_its_command() -> None:
    entrypoint = REPO / "infra/docker/entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    assert entrypoint.read_text(encoding="utf-8").rstrip().endswith('exec "$@"')
