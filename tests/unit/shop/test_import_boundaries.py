"""The domain stays independent: importing all of shop but its job classes pulls in neither
Flask nor sidequest; `shop.jobs`, where the domain meets sidequest, pulls in no Flask."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PACKAGE = PROJECT_ROOT / "services" / "shop"


JOBS_PACKAGE = "shop.jobs"


def shop_modules() -> list[str]:
    """Every module of the domain, the job classes (`shop.jobs`) excepted."""
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue  # run by Alembic, not importable as modules
        parts = relative.parts[:-1] if relative.name in ("__init__", "__main__") else relative.parts
        name = ".".join(parts)
        if name != JOBS_PACKAGE and not name.startswith(JOBS_PACKAGE + "."):
            modules.append(name)
    return sorted(set(modules))


def test_no_shop_module_imports_flask_or_sidequest() -> None:
    modules = shop_modules()
    assert "shop.reports.builder" in modules
    assert imported_top_level_packages(modules, ("flask", "sidequest", "web", "worker")) == []


def test_the_job_classes_import_sidequest_but_no_flask_web_or_worker() -> None:
    imported = imported_top_level_packages([JOBS_PACKAGE], ("flask", "sidequest", "web", "worker"))
    assert "sidequest" in imported
    assert [name for name in imported if name.split(".")[0] != "sidequest"] == []


def imported_top_level_packages(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    """The modules under `watched` packages that importing `modules` pulls in."""
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {watched!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(PROJECT_ROOT / "services"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported: list[str] = ast.literal_eval(result.stdout.strip())
    return imported


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(word in path.read_text(encoding="utf-8") for word in ("os.environ", "getenv"))
    )
    assert readers == ["settings.py"]
