"""Validation of job arguments: they must be JSON-native. Pure, no I/O.

Sidekiq 7 raises on non-native arguments (`strict_args!`) for the same reason we do:
an object, a datetime or a set would not come back out of Redis as the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sidequest import keywords
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
        if type(value) is dict and keywords.MARKER in value:
            # Stored last, it would be read back as keyword arguments.
            raise SerializationError(
                f"{job_name}: argument {index + 1} is a dict with the key "
                f"{keywords.MARKER!r}, which marks keyword arguments in a payload; pass "
                "keyword arguments as keywords"
            )
    return list(args)


def validate_keywords(kwargs: dict[str, Any], job_name: str) -> dict[str, Any]:
    """Return the keyword arguments, raising SerializationError naming the bad one."""
    for name, value in kwargs.items():
        if name in keywords.RESERVED:
            raise SerializationError(
                f"{job_name}: the keyword argument name {name!r} is reserved by ActiveJob's "
                "payload format, which would read it back as a marker"
            )
        problem = _find_problem(value, f"kwargs[{name!r}]")
        if problem is not None:
            path, description = problem
            raise SerializationError(
                f"{job_name}: keyword argument {name!r} ({path}) is {description}, which is "
                f"not JSON-native. {ADVICE}"
            )
    return kwargs


def _find_problem(value: Any, path: str) -> tuple[str, str] | None:
    """(path, description) of the first non-native value inside `value`, or None."""
    kind = type(value)
    if kind in _SCALARS:
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return path, f"the float {value!r} (JSON has no NaN or infinity)"
    if kind is list:
        return _first_problem((f"{path}[{i}]", item) for i, item in enumerate(value))
    if kind is dict:
        bad_key = next((key for key in value if type(key) is not str), _NO_KEY)
        if bad_key is not _NO_KEY:
            return path, f"a dict with the non-string key {bad_key!r}"
        return _first_problem((f"{path}[{key!r}]", item) for key, item in value.items())
    return path, _describe(value)


_NO_KEY = object()


def _first_problem(items: Iterable[tuple[str, Any]]) -> tuple[str, str] | None:
    for path, item in items:
        problem = _find_problem(item, path)
        if problem is not None:
            return problem
    return None


def _describe(value: Any) -> str:
    kind = type(value)
    if kind is tuple:
        return "a tuple (use a list)"
    article = "an" if kind.__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {kind.__module__}.{kind.__qualname__}".replace("builtins.", "")
