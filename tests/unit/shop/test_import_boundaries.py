"""The domain stays independent: importing all of shop pulls in neither Flask nor sidequest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PACKAGE = PROJECT_ROOT / "services" / "shop"


def shop_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue  # run by Alembic, not importable as modules
        parts = relative.parts[:-1] if relative.name in ("__init__", "__main__") else relative.parts
        modules.append(".".join(parts))
    return sorted(set(modules))


def test_no_shop_module_imports_flask_or_sidequest() -> None:
    modules = shop_modules()
    assert "shop.reports.builder" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "forbidden = ('flask', 'sidequest', 'web', 'worker')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in forbidden))\n"
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
    assert result.stdout.strip() == "[]"


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(word in path.read_text(encoding="utf-8") for word in ("os.environ", "getenv"))
    )
    assert readers == ["settings.py"]
