"""Limits declared in a worker's config file rather than on the class:

    :limits:
      ChargeJob:
        concurrency: {to: 3, key: "stripe:{account_id}", duration: 300}
        rate: {limit: 100, per: 1, key: "stripe:{0}"}

A `key` is a format string over the job's arguments: `{0}` is the first positional one,
`{account_id}` the argument of that name however it was passed; without a key the limit
is per class. Seconds are numbers. The worker adds these limits to the classes its `-r`
modules registered (an unknown class name stops it with status 78); every worker that
runs the class must declare the same limits, as every worker imports the same class.
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sidequest.errors import ConfigError
from sidequest.limits import (
    DEFAULT_DURATION,
    ConcurrencyLimit,
    KeyFunction,
    Limit,
    RateLimit,
    add_limit,
    limits_concurrency,
    limits_rate,
)

_KINDS = {"concurrency": ("to", "key", "duration"), "rate": ("limit", "per", "key")}


@dataclass(frozen=True)
class Declared:
    """One limit of the config file, for the class named `job_class`; `key` is the
    format string (None: per class)."""

    job_class: str
    kind: str
    amount: int
    seconds: float
    key: str | None


def parse_section(section: object) -> tuple[Declared, ...]:
    """The limits of a config file's `:limits:` mapping (None or {} for none)."""
    if section is None:
        return ()
    if not isinstance(section, Mapping):
        raise ConfigError("limits: must map job class names to their limits")
    declared: list[Declared] = []
    for name, entry in section.items():
        class_name = str(name).strip(":")
        if not isinstance(entry, Mapping) or not entry:
            raise ConfigError(f"limits of {class_name}: map concurrency and/or rate to settings")
        for kind_name, settings in entry.items():
            declared.append(_parse(class_name, str(kind_name).strip(":"), settings))
    return tuple(declared)


def _parse(class_name: str, kind: str, settings: object) -> Declared:
    where = f"limits of {class_name}: {kind}"
    if kind not in _KINDS:
        raise ConfigError(f"{where}: unknown kind (known: concurrency, rate)")
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: its settings must be a mapping")
    fields = {str(key).strip(":"): value for key, value in settings.items()}
    unknown = sorted(set(fields) - set(_KINDS[kind]))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")
    required = ("to",) if kind == "concurrency" else ("limit", "per")
    missing = [name for name in required if fields.get(name) is None]
    if missing:
        raise ConfigError(f"{where}: {missing[0]} is required")
    key = fields.get("key")
    if key is not None:
        key = str(key)
        try:
            list(string.Formatter().parse(key))
        except ValueError as error:
            raise ConfigError(f"{where}: key {key!r} is no format string: {error}") from None
    try:
        if kind == "concurrency":
            amount = fields.get("to")
            seconds = fields.get("duration", DEFAULT_DURATION.total_seconds())
            limits_concurrency(to=amount, duration=seconds)  # type: ignore[arg-type]
        else:
            amount, seconds = fields.get("limit"), fields.get("per")
            limits_rate(amount, per=seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None
    return Declared(class_name, kind, int(amount), float(seconds), key)  # type: ignore[arg-type]


def apply(declared: tuple[Declared, ...], resolve: Callable[[str], type | None]) -> None:
    """Add each declared limit to its registered class; ConfigError for an unknown name."""
    for item in declared:
        job_class = resolve(item.job_class)
        if job_class is None:
            raise ConfigError(
                f"limits: no job class named {item.job_class!r} is registered in this "
                "worker; load its module with -r"
            )
        key = None if item.key is None else template_key(item.key, job_class)
        limit: Limit
        if item.kind == "concurrency":
            limit = ConcurrencyLimit(item.amount, key, item.seconds)
        else:
            limit = RateLimit(item.amount, item.seconds, key)
        add_limit(job_class, limit)


def template_key(template: str, job_class: type) -> KeyFunction:
    """A key function formatting `template` with the job's arguments."""
    perform = getattr(job_class, "perform", None)
    signature = inspect.signature(perform) if callable(perform) else None

    def key(*args: Any, **kwargs: Any) -> str:
        named = dict(kwargs)
        if signature is not None:
            try:
                bound = signature.bind_partial(None, *args, **kwargs)
            except TypeError:
                bound = None
            if bound is not None:
                bound.apply_defaults()
                named = {
                    name: value
                    for index, (name, value) in enumerate(bound.arguments.items())
                    if index > 0
                }
        return template.format(*args, **named)

    return key
