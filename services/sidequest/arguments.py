"""Validation of job arguments: they must be JSON-native. Pure, no I/O.

Sidekiq 7 raises on non-native arguments (`strict_args!`) for the same reason we do:
an object, a datetime or a set would not come back out of Redis as the same thing.
"""

from __future__ import annotations

import math
from typing import Any

from sidequest.errors import SerializationError

_SCALARS = (str, int, bool, type(None))

ADVICE = (
    "Job arguments must be JSON-native (str, int, float, bool, None, list, or dict with "
    "str keys) so they come out of Redis exactly as they went in. Pass an ID (for "
    "example `report.id`) and load the record inside perform(); pass dates as ISO "
    "strings or epoch seconds."
)


def validate(args: tuple[Any, ...] | list[Any], job_name: str) -> list[Any]:
    """Return the arguments as a list, raising SerializationError naming the bad one."""
    for index, value in enumerate(args):
        problem = _find_problem(value, f"args[{index}]")
        if problem is not None:
            path, description = problem
            raise SerializationError(
                f"{job_name}: argument {index + 1} ({path}) is {description}, which is not "
                f"JSON-native. {ADVICE}"
            )
    return list(args)


def _find_problem(value: Any, path: str) -> tuple[str, str] | None:
    kind = type(value)
    if kind in _SCALARS:
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return path, f"the float {value!r} (JSON has no NaN or infinity)"
    if kind is list:
        for index, item in enumerate(value):
            problem = _find_problem(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return path, f"a dict with the non-string key {key!r}"
            problem = _find_problem(item, f"{path}[{key!r}]")
            if problem is not None:
                return problem
        return None
    return path, _describe(value)


def _describe(value: Any) -> str:
    kind = type(value)
    if kind is tuple:
        return "a tuple (use a list)"
    article = "an" if kind.__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {kind.__module__}.{kind.__qualname__}".replace("builtins.", "")
