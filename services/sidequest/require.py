"""`-r`: importing the modules or files that define job classes, so that they register.

A worker (`sidequest worker -r`) and `sidequest enqueue -r` load them the same way. A
target is a dotted module name, or a path to a `.py` file, which is imported as a
top-level module named after the file (its folder goes first on sys.path). The current
directory is put on sys.path too, as `python -m` would.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sidequest.errors import ConfigError


def load_modules(requires: Sequence[str]) -> None:
    """Import each module (dotted name) or file (path ending in .py)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for target in requires:
        if target.endswith(".py") or os.sep in target:
            path = Path(target).resolve()
            if not path.is_file():
                raise ConfigError(f"cannot require {target}: no such file")
            sys.path.insert(0, str(path.parent))
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"cannot import {target}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(target)
            except ModuleNotFoundError as error:
                raise ConfigError(f"cannot require {target}: {error}") from None
