"""`-r`: importing the modules, files or folders that define job classes, so that they register.

A worker (`sidequest worker -r`) and `sidequest enqueue -r` load each target the same way:

- a dotted name (`myapp.jobs`) is imported as Python imports it: a module, or a package
  whose `__init__.py` decides what else it imports;
- a folder without `__init__.py` (`-r jobs` for `jobs/hello.py` and `jobs/report.py`)
  has no such file to decide, so every module in it is imported under its dotted name
  (`jobs.hello`, `jobs.report`), and each subfolder by the same rules. Issue 22: such
  a folder imported nothing, and every job the worker fetched died as unknown;
- a path (`myapp/jobs.py`, `myapp/jobs/`: anything ending in `.py` or holding a slash)
  is imported under the name the rest of the application imports it by: up through
  the folders that hold an `__init__.py` to the package's root, which goes on sys.path.
  So `myapp/jobs.py` is `myapp.jobs`, never a second, top-level `jobs`, whose classes
  would register twice and not match payloads naming `myapp.jobs.HelloJob` (issue 22).
  When that name imports another file (an installed copy of the package shadows the
  checkout), the target is refused, naming the -r that would load that copy.

The current directory goes first on sys.path, as `python -m` would. What each target
imported is recorded for the worker's start line and for the error of a job whose class
it does not know (`summary`, `log_job_classes`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sidequest.errors import ConfigError
from sidequest.job import registry

logger = logging.getLogger("sidequest")

# Names past this many are counted, not listed (the start line, UnknownJobError).
SHOWN_NAMES = 12


@dataclass(frozen=True)
class Loaded:
    """One -r target and the modules importing it imported, by dotted name."""

    target: str
    modules: tuple[str, ...]

    def describe(self) -> str:
        if self.modules == (self.target,):
            return f"-r {self.target}"
        return f"-r {self.target} ({shortened(self.modules)})"


_loaded: list[Loaded] = []


def load_modules(requires: Sequence[str]) -> list[Loaded]:
    """Import each target (module name, `.py` file or folder); see the module docstring."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    loaded = []
    for target in requires:
        modules = _import_path(target) if _is_path(target) else _import_name(target, target)
        loaded.append(Loaded(target, tuple(modules)))
    _loaded.extend(loaded)
    return loaded


def summary() -> str:
    """What this process loaded and the job classes it knows, in one clause."""
    names = [job_class.job_name for job_class in registry.classes()]
    known = f"{_count(names)}: {shortened(names)}" if names else "no job class"
    return f"it loaded {_targets()} and knows {known}"


def log_job_classes() -> None:
    """The worker's start line about its job classes; a warning when it knows none."""
    names = [job_class.job_name for job_class in registry.classes()]
    if names:
        logger.info("loaded %s; knows %s: %s", _targets(), _count(names), shortened(names))
        return
    logger.warning(
        "this worker knows no job class (it loaded %s): every job it fetches fails as "
        "unknown and is retried. %s",
        _targets(),
        _hint(),
    )


def shortened(names: Sequence[str], limit: int = SHOWN_NAMES) -> str:
    """`names` joined with commas; past `limit`, the first ones and how many more."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"


def _targets() -> str:
    return ", ".join(item.describe() for item in _loaded) or "no -r module"


def _count(names: Sequence[str]) -> str:
    return f"{len(names)} job class" + ("" if len(names) == 1 else "es")


def _hint() -> str:
    """What to pass instead: the modules of a -r package that its __init__.py left out."""
    for item in _loaded:
        for name in item.modules:
            module = sys.modules.get(name)
            left_out = _modules_beside(module) if module is not None else []
            if left_out:
                return (
                    f"The package {name} imports none of its modules ({shortened(left_out)}): "
                    f"import them in its __init__.py, or pass -r {left_out[0]}"
                )
    return "Pass the modules that define the job classes with -r MODULE (or -r path/to/file.py)"


def _modules_beside(package: ModuleType) -> list[str]:
    """The modules of a regular package that are not imported."""
    if getattr(package, "__file__", None) is None or not hasattr(package, "__path__"):
        return []
    prefix = package.__name__ + "."
    names = [prefix + info.name for info in pkgutil.iter_modules(package.__path__)]
    return sorted(name for name in names if name not in sys.modules)


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target or target in {".", ".."}


def _import_name(name: str, target: str) -> list[str]:
    """Import `name`; a folder without __init__.py brings every module in it."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise ConfigError(f"cannot require {target}: {error}") from None
    if not _is_namespace(module):
        return [name]
    modules = _folder_modules(module, target)
    if not modules:
        folders = ", ".join(str(path) for path in module.__path__)
        raise ConfigError(f"cannot require {target}: the folder {folders} holds no Python module")
    return modules


def _is_namespace(module: ModuleType) -> bool:
    """A folder without __init__.py, imported as a namespace package (PEP 420)."""
    return getattr(module, "__file__", None) is None and hasattr(module, "__path__")


def _folder_modules(package: ModuleType, target: str) -> list[str]:
    """Import the modules of a folder without __init__.py, and its subfolders', sorted."""
    imported = []
    for name in _folder_entries(package):
        dotted = f"{package.__name__}.{name}"
        try:
            module = importlib.import_module(dotted)
        except ModuleNotFoundError as error:
            raise ConfigError(f"cannot require {target}: {dotted}: {error}") from None
        if _is_namespace(module):
            imported += _folder_modules(module, target)
        else:
            imported.append(dotted)
    return imported


def _folder_entries(package: ModuleType) -> list[str]:
    """The names of a folder's modules, packages and folders without __init__.py (which
    pkgutil leaves out), sorted; not `__main__`, a program rather than a module."""
    names = {info.name for info in pkgutil.iter_modules(package.__path__)}
    for location in package.__path__:
        with os.scandir(location) as entries:
            names.update(
                entry.name
                for entry in entries
                if entry.is_dir() and entry.name.isidentifier() and entry.name != "__pycache__"
            )
    return sorted(names - {"__main__"})


def _import_path(target: str) -> list[str]:
    """Import a .py file or a folder under its package path (the module docstring)."""
    path = Path(target).resolve()
    if not path.exists():
        raise ConfigError(f"cannot require {target}: no such file or folder")
    if path.is_file() and path.suffix != ".py":
        raise ConfigError(f"cannot require {target}: neither a .py file nor a folder")
    if path.name == "__init__.py":
        path = path.parent
    name, root = package_path(path)
    if not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(
            f"cannot require {target}: its package path {name} is no Python module name"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    _check_origin(target, name, path)
    return _import_name(name, target)


def package_path(path: Path) -> tuple[str, Path]:
    """The dotted name of a .py file or folder, and the folder its top package is in:
    up through every folder that holds an `__init__.py`."""
    parts = [path.stem if path.is_file() else path.name]
    root = path.parent
    while (root / "__init__.py").is_file() and root != root.parent:
        parts.insert(0, root.name)
        root = root.parent
    return ".".join(parts), root


def _check_origin(target: str, name: str, path: Path) -> None:
    """Refuse a target whose package path imports another file than `path`."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        found = "nothing"
    elif spec.origin is not None and spec.has_location:
        found = spec.origin
        if Path(found).resolve() in {path, path / "__init__.py"}:
            return
    else:
        locations = list(spec.submodule_search_locations or [])
        if path in {Path(location).resolve() for location in locations}:
            return
        found = ", ".join(locations) or "a built-in module"
    raise ConfigError(
        f"cannot require {target}: as part of its package it is module {name}, but "
        f"`import {name}` finds {found} (another copy earlier on sys.path); start the "
        f"worker where that copy is not installed, or pass -r {name} to load that one"
    )
