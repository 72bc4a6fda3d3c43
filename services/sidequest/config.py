"""Worker settings: defaults, the sidekiq.yml-shaped config file, environment and flags.

Precedence, lowest first: defaults, the YAML file (`-C`), environment variables, CLI
flags. `redis_source` records which of them gave the Redis URL; a worker whose settings
name none uses the URL its modules gave sidequest.configure() (`redis_source.py`). The
file keeps Sidekiq's shape, with or without the leading colons:

    :concurrency: 5
    :queues:
      - default
      - mailers
      - [critical, 3]
    :periodic:                  # periodic jobs: periodic_jobs/schedule.py
      nightly_report: {cron: "30 2 * * *", class: NightlyReportJob}
    :limits:                    # concurrency and rate limits: limits/declared.py
      ChargeJob: {concurrency: {to: 3, key: "stripe:{account_id}"}}
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from sidequest.connection import DEFAULT_URL, check_url
from sidequest.errors import ConfigError
from sidequest.limits.declared import Declared
from sidequest.limits.declared import parse_section as parse_limits
from sidequest.periodic_jobs.schedule import Schedule, parse_section
from sidequest.redis_source import DEFAULT, ENVIRONMENT, FLAG, RedisSource
from sidequest.replication import EnqueueWait

#: the `cpus` setting's default: each worker process on a CPU of its own, while they fit
AUTO_CPUS: Literal["auto"] = "auto"


@dataclass(frozen=True)
class QueueSpec:
    """A queue and its weight; weight 0 means "listed without a weight"."""

    name: str
    weight: int = 0


@dataclass(frozen=True)
class Settings:
    redis_url: str = DEFAULT_URL
    #: where redis_url came from: the flag, the environment, the config file, a
    #: sidequest.configure() call or the default
    redis_source: RedisSource = DEFAULT
    #: processor threads per worker process
    concurrency: int = 5
    #: jobs with an `async def perform` in flight per worker process, on its event loop
    #: (runtime/async_executor.py); independent of `concurrency`
    async_concurrency: int = 100
    queues: tuple[QueueSpec, ...] = (QueueSpec("default"),)
    #: seconds SIGTERM waits for running jobs before pushing them back to their queues
    shutdown_timeout: float = 25.0
    tag: str = ""
    labels: tuple[str, ...] = ()
    #: modules (or .py files) imported at start so their job classes register
    require: tuple[str, ...] = ()
    #: jobs held beyond the busy threads, so threads never wait for a round trip; None
    #: adapts it to how long jobs take (see runtime/prefetch.py)
    prefetch: int | None = None
    heartbeat_interval: float = 2.0
    #: a process whose heartbeat is older than this is presumed dead; its jobs are recovered
    heartbeat_timeout: float = 20.0
    #: recoveries from dead processes after which a job goes to the dead set (poison pill)
    max_recoveries: int = 3
    #: retries allowed by `retry = True`
    max_retries: int = 25
    dead_max_jobs: int = 10_000
    dead_timeout: float = 180 * 24 * 3600.0
    #: seconds after a job's timeout before its thread is abandoned and replaced
    timeout_grace: float = 1.0
    #: longest the scheduler sleeps without news (catches jobs scheduled by other clients)
    scheduler_max_sleep: float = 1.0
    log_format: str = "text"
    log_level: str = "INFO"
    #: CPUs the worker process runs on (taskset's "0,2-3"); "auto": a CPU of its own while
    #: the host's worker processes fit its CPUs (runtime/cpu_claims.py); empty ("off"):
    #: wherever the OS likes
    cpus: tuple[int, ...] | Literal["auto"] = AUTO_CPUS
    #: the directory in which `cpus: auto` processes share out the CPUs; empty: one per
    #: host (/dev/shm/sidequest-cpus-<uid>). Set, it also pins inside containers: mount
    #: one host directory into every worker container of the host to pin them all.
    cpu_claims: str = ""
    #: the config file's `:periodic:` schedules; None when the file has no such key, so
    #: that a worker without one leaves the published schedules alone (`:periodic: {}`
    #: removes them all: runtime/periodic.py)
    periodic: tuple[Schedule, ...] | None = None
    #: replicas that must hold a job before an enqueue returns (WAIT), and for how long
    #: to wait for them: replication.py
    enqueue_wait_replicas: int = 0
    enqueue_wait_timeout: float = 1.0
    #: the config file's `:limits:`, added to the job classes at start
    limits: tuple[Declared, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enqueue_wait(self) -> EnqueueWait:
        return EnqueueWait(self.enqueue_wait_replicas, self.enqueue_wait_timeout)

    @property
    def weighted(self) -> bool:
        return any(queue.weight > 0 for queue in self.queues)

    def validate(self) -> Settings:
        """Return self, or raise ConfigError naming the first bad setting."""
        check_url(self.redis_url, self.redis_source.setting)
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1 (got {self.concurrency})")
        if self.async_concurrency < 1:
            raise ConfigError(
                f"async_concurrency must be at least 1 (got {self.async_concurrency})"
            )
        if not self.queues:
            raise ConfigError("at least one queue is needed")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format must be text or json (got {self.log_format!r})")
        self._validate_numbers()
        self.enqueue_wait  # noqa: B018 - raises ConfigError for a bad count or timeout
        if self.heartbeat_timeout <= self.heartbeat_interval * 2:
            raise ConfigError(
                "heartbeat_timeout must exceed twice heartbeat_interval, or live processes "
                f"would be presumed dead (got {self.heartbeat_timeout}, {self.heartbeat_interval})"
            )
        return self

    def _validate_numbers(self) -> None:
        for number in (
            "shutdown_timeout",
            "heartbeat_interval",
            "heartbeat_timeout",
            "timeout_grace",
            "scheduler_max_sleep",
            "dead_timeout",
        ):
            value = getattr(self, number)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{number} must be a non-negative number (got {value!r})")
        if self.heartbeat_interval <= 0 or self.scheduler_max_sleep <= 0:
            raise ConfigError("heartbeat_interval and scheduler_max_sleep must be above 0")
        for whole in ("max_retries", "max_recoveries", "dead_max_jobs"):
            if getattr(self, whole) < 0:
                raise ConfigError(f"{whole} must not be negative")
        if self.prefetch is not None and self.prefetch < 0:
            raise ConfigError("prefetch must not be negative")


_FILE_KEYS = {
    "concurrency": "concurrency",
    "async_concurrency": "async_concurrency",
    "queues": "queues",
    "timeout": "shutdown_timeout",
    "shutdown_timeout": "shutdown_timeout",
    "tag": "tag",
    "labels": "labels",
    "require": "require",
    "prefetch": "prefetch",
    "heartbeat_interval": "heartbeat_interval",
    "heartbeat_timeout": "heartbeat_timeout",
    "max_recoveries": "max_recoveries",
    "max_retries": "max_retries",
    "dead_max_jobs": "dead_max_jobs",
    "dead_timeout": "dead_timeout",
    "timeout_grace": "timeout_grace",
    "scheduler_max_sleep": "scheduler_max_sleep",
    "redis_url": "redis_url",
    "log_format": "log_format",
    "log_level": "log_level",
    "cpus": "cpus",
    "cpu_claims": "cpu_claims",
    "periodic": "periodic",
    "enqueue_wait_replicas": "enqueue_wait_replicas",
    "enqueue_wait_timeout": "enqueue_wait_timeout",
    "limits": "limits",
}

_ENVIRONMENT = {
    "REDIS_URL": "redis_url",
    "SIDEQUEST_CONCURRENCY": "concurrency",
    "SIDEQUEST_ASYNC_CONCURRENCY": "async_concurrency",
    "SIDEQUEST_QUEUES": "queues",
    "SIDEQUEST_SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "SIDEQUEST_TAG": "tag",
    "SIDEQUEST_HEARTBEAT_INTERVAL": "heartbeat_interval",
    "SIDEQUEST_HEARTBEAT_TIMEOUT": "heartbeat_timeout",
    "SIDEQUEST_PREFETCH": "prefetch",
    "SIDEQUEST_MAX_RECOVERIES": "max_recoveries",
    "SIDEQUEST_MAX_RETRIES": "max_retries",
    "SIDEQUEST_DEAD_MAX_JOBS": "dead_max_jobs",
    "SIDEQUEST_TIMEOUT_GRACE": "timeout_grace",
    "SIDEQUEST_SCHEDULER_MAX_SLEEP": "scheduler_max_sleep",
    "SIDEQUEST_LOG_FORMAT": "log_format",
    "SIDEQUEST_LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format",
    "SIDEQUEST_CPUS": "cpus",
    "SIDEQUEST_CPU_CLAIMS": "cpu_claims",
    "SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "enqueue_wait_replicas",
    "SIDEQUEST_ENQUEUE_WAIT_TIMEOUT": "enqueue_wait_timeout",
}


def parse_queue(entry: object) -> QueueSpec:
    """`"name"`, `"name,3"`, `["name", 3]` or `{"name": 3}` -> QueueSpec."""
    if isinstance(entry, str):
        name, _, weight = entry.partition(",")
        return _queue(name.strip(), weight.strip() or 0)
    if isinstance(entry, Sequence) and 1 <= len(entry) <= 2:
        return _queue(str(entry[0]), entry[1] if len(entry) == 2 else 0)
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((name, weight),) = entry.items()
        return _queue(str(name), weight)
    raise ConfigError(f"a queue must be a name, 'name,weight' or [name, weight] (got {entry!r})")


# `critical:3` is the spelling people guess for a weight; Sidekiq's is `critical,3`.
# Taken as a name, it is a queue nobody enqueues to, and the worker idles without a word.
_NAME_COLON_WEIGHT = re.compile(r"(?P<name>.+):(?P<weight>[0-9]+)")


def _queue(name: str, weight: object) -> QueueSpec:
    if not name or any(ch.isspace() for ch in name):
        raise ConfigError(f"invalid queue name {name!r}")
    guessed = _NAME_COLON_WEIGHT.fullmatch(name)
    if guessed is not None:
        queue, number = guessed["name"], guessed["weight"]
        raise ConfigError(
            f"queue {name!r}: a weight follows a comma, not a colon: write {queue},{number} "
            f"(-q {queue},{number}; in a config file also [{queue}, {number}])"
        )
    try:
        number = int(str(weight))
    except ValueError:
        raise ConfigError(
            f"queue {name!r}: weight must be a whole number (got {weight!r})"
        ) from None
    if number < 0:
        raise ConfigError(f"queue {name!r}: weight must not be negative")
    return QueueSpec(name, number)


def parse_queues(entries: Sequence[object]) -> tuple[QueueSpec, ...]:
    specs: dict[str, QueueSpec] = {}
    for entry in entries:
        spec = parse_queue(entry)
        specs.setdefault(spec.name, spec)
    if not specs:
        raise ConfigError("the queue list is empty")
    return tuple(specs.values())


def parse_cpus(value: object) -> tuple[int, ...] | Literal["auto"]:
    """CPU numbers from "0,2-3", 3 or [0, "2-3"]; "auto"; () from "off", "none" or "".

    ConfigError when it is none of these.
    """
    if isinstance(value, str) and value.strip().lower() in ("auto", "off", "none"):
        return AUTO_CPUS if value.strip().lower() == "auto" else ()
    if isinstance(value, bool):
        raise ConfigError(f"cpus: not a CPU list: {value!r}")
    if isinstance(value, int):
        parts: Iterable[object] = [value]
    elif isinstance(value, str):
        parts = [part for part in value.replace(" ", "").split(",") if part]
    elif isinstance(value, list | tuple):
        parts = value
    else:
        raise ConfigError(f"cpus: not a CPU list: {value!r}")
    cpus: set[int] = set()
    for part in parts:
        cpus.update(_cpu_range(part))
    return tuple(sorted(cpus))


#: the highest CPU number accepted: past any machine's, and a typo like "0-99999999"
#: would otherwise build a set of a hundred million numbers before pin() refused it
MAX_CPU = 65_535


def _cpu_range(part: object) -> range:
    text = str(part).strip()
    low, dash, high = text.partition("-")
    if not _ascii_digits(low) or (dash and not _ascii_digits(high)):
        raise ConfigError(f"cpus: {text!r} is not a CPU number or a range like 0-3")
    first, last = int(low), int(high) if dash else int(low)
    if last < first:
        raise ConfigError(f"cpus: the range {text!r} runs backwards")
    if last > MAX_CPU:
        raise ConfigError(f"cpus: {text!r} goes past CPU {MAX_CPU}")
    return range(first, last + 1)


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def read_file(path: str | Path) -> dict[str, Any]:
    """The settings found in a sidekiq.yml-shaped file, as Settings field names."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    found: dict[str, Any] = {}
    for raw_key, value in document.items():
        key = str(raw_key).strip(":")
        if key not in _FILE_KEYS:
            raise ConfigError(
                f"config file {path}: unknown setting {raw_key!r} "
                f"(known: {', '.join(sorted(_FILE_KEYS))})"
            )
        found[_FILE_KEYS[key]] = value
    return found


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error on one line (its own text spans lines and quotes the source)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        text = f"{error.context}: {error.problem}" if error.context else error.problem
        if error.problem_mark is not None:
            mark = error.problem_mark
            text += f" at line {mark.line + 1}, column {mark.column + 1}"
    else:
        text = str(error)
    return " ".join(text.split())


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    return {name: environ[var] for var, name in _ENVIRONMENT.items() if environ.get(var)}


def build_settings(
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < config file < environment < explicit overrides (CLI flags)."""
    layers: list[tuple[dict[str, Any], RedisSource]] = []
    if config_file is not None:
        layers.append((read_file(config_file), RedisSource("file", str(config_file))))
    layers.append((read_environment(os.environ if environ is None else environ), ENVIRONMENT))
    layers.append(({k: v for k, v in (overrides or {}).items() if v is not None}, FLAG))
    values: dict[str, Any] = {}
    redis_source = DEFAULT
    for layer, source in layers:
        values.update(layer)
        if "redis_url" in layer:
            redis_source = source
    return replace(Settings(), redis_source=redis_source, **_coerce(values)).validate()


def _whole_number(value: object) -> int:
    """An int from an int or a string of digits; 2.5, True or "5x" are refused."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise ValueError(value)


def _number(value: object) -> float:
    """A finite float from a number or a numeric string."""
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value) if isinstance(value, int | float | str) else float("nan")
    if not math.isfinite(number):
        raise ValueError(value)
    return number


# Settings with a parser of their own (the config file's sections).
_SECTIONS: dict[str, Callable[[Any], Any]] = {
    "cpus": parse_cpus,
    "periodic": parse_section,
    "limits": parse_limits,
}


def _coerce(values: Mapping[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Settings)}
    result: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(types[name])
        try:
            if name == "queues":
                entries = value.split() if isinstance(value, str) else value
                if not isinstance(entries, Sequence):
                    raise ConfigError(f"queues must be a list (got {value!r})")
                result[name] = parse_queues(entries)
            elif name in _SECTIONS:
                result[name] = _SECTIONS[name](value)
            elif name in ("labels", "require"):
                items = value.split(",") if isinstance(value, str) else value
                result[name] = tuple(str(item).strip() for item in items if str(item).strip())
            elif kind.startswith("int"):
                result[name] = _whole_number(value)
            elif kind.startswith("float"):
                result[name] = _number(value)
            else:
                result[name] = str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name}: cannot use {value!r}") from None
    return result
