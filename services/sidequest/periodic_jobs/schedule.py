"""The Schedule value: one periodic job's definition, validated. Pure, no I/O.

From the worker's config file (sidekiq.yml shape; keys with or without leading colons):

    :periodic:
      nightly_report:
        cron: "30 2 * * *"          # five fields or an @alias; or `every: 30` (seconds)
        tz: Europe/Berlin           # IANA zone, default UTC
        class: NightlyReportJob     # any class name, Ruby's included
        args: [7]
        queue: reports              # default: the class's queue
        missed: one                 # skip | one | all
        missed_limit: 10            # for `all`

Every problem raises ConfigError naming the schedule and the field. Redis holds each
schedule as its definition's JSON (`to_json`), with the queue and retry the publishing
worker resolved, so readers that know no job classes (the dashboard, the CLI) can still
enqueue it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sidequest import arguments
from sidequest.errors import ConfigError, SerializationError
from sidequest.periodic_jobs.missed import Missed
from sidequest.periodic_jobs.ticks import CronTicks, EveryTicks, Timing

#: names become part of a Redis key and a CLI argument: keep them plain
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")
_FIELDS = ("cron", "every", "tz", "class", "args", "queue", "missed", "missed_limit")
#: the most missed ticks `all` may enqueue at once
MAX_MISSED_LIMIT = 1000

#: builds the ConfigError for one field of the schedule being parsed
Problem = Callable[[str, str], ConfigError]


@dataclass(frozen=True)
class Schedule:
    """One periodic job. `queue` and `retry` are None until resolved (resolution.py)."""

    name: str
    job_class: str
    cron: str | None = None
    every: int | None = None
    tz: str = "UTC"
    args: tuple[Any, ...] = ()
    queue: str | None = None
    retry: bool | int | None = None
    missed: Missed = Missed.ONE
    missed_limit: int = 10

    @cached_property
    def timing(self) -> Timing:
        if self.every is not None:
            return EveryTicks(self.every)
        assert self.cron is not None  # parse() guarantees one of the two
        return CronTicks(self.cron, ZoneInfo(self.tz))

    @property
    def timing_key(self) -> tuple[str | None, int | None, str]:
        """What decides the ticks; when it changes, the schedule starts afresh."""
        return (self.cron, self.every, self.tz)

    def describe(self) -> str:
        """The schedule as a person reads it: `every 30 s` or `cron 30 2 * * *`."""
        return f"every {self.every} s" if self.every is not None else f"cron {self.cron}"

    def resolved(self, *, queue: str, retry: bool | int) -> Schedule:
        """This schedule with the job class's defaults filled in where none was given."""
        return replace(
            self,
            queue=self.queue or queue,
            retry=self.retry if self.retry is not None else retry,
        )

    def to_json(self) -> str:
        """The definition stored in Redis: canonical JSON, so equal schedules are equal text."""
        data = asdict(self)
        data["class"] = data.pop("job_class")
        data["args"] = list(self.args)
        data["missed"] = str(self.missed)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Schedule:
        """A definition read back from Redis; ConfigError when it is not one."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"periodic definition is not JSON: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ConfigError("periodic definition has no name")
        name = data.pop("name")
        retry = data.pop("retry", None)
        schedule = parse(name, data)
        if retry is not None and not isinstance(retry, bool | int):
            raise ConfigError(f"periodic schedule {name!r}: retry: {retry!r} is no retry option")
        return replace(schedule, retry=retry)


def parse_section(section: object) -> tuple[Schedule, ...]:
    """The schedules of a config file's `:periodic:` mapping (None or {} for none)."""
    if section is None:
        return ()
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"periodic: must map schedule names to their settings (got {type(section).__name__})"
        )
    return tuple(parse(str(name).strip(":"), entry) for name, entry in section.items())


def parse(name: str, entry: object) -> Schedule:
    """One schedule from its settings; ConfigError naming the schedule and the field."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"periodic schedule {name!r}: a name is 1-100 letters, digits and _ . : - "
            "(it becomes part of a Redis key)"
        )
    if not isinstance(entry, Mapping):
        raise ConfigError(f"periodic schedule {name!r}: its settings must be a mapping")
    fields = {str(key).strip(":"): value for key, value in entry.items()}
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"periodic schedule {name!r}: unknown setting {unknown[0]!r} "
            f"(known: {', '.join(_FIELDS)})"
        )

    def problem(field: str, text: str) -> ConfigError:
        return ConfigError(f"periodic schedule {name!r}: {field}: {text}")

    cron, every = _timing_fields(fields, problem)
    if every is not None and fields.get("tz", "UTC") != "UTC":
        # Refused rather than ignored: `every: 86400, tz: Europe/Berlin` reads as "daily at
        # Berlin midnight", but `every` ticks fall on multiples of N s since the epoch.
        raise problem("tz", "applies to `cron` only; `every` ticks are counted from the epoch")
    schedule = Schedule(
        name=name,
        job_class=_job_class(fields.get("class"), problem),
        cron=cron,
        every=every,
        tz=_zone(fields.get("tz", "UTC"), problem),
        args=_args(name, fields.get("args", []), problem),
        queue=_queue(fields.get("queue"), problem),
        missed=_missed(fields.get("missed", Missed.ONE.value), problem),
        missed_limit=_missed_limit(fields.get("missed_limit", 10), problem),
    )
    try:
        timing = schedule.timing
    except ValueError as error:
        raise problem("cron", f"{cron!r} {error}") from None
    if timing.next_after(0) is None:
        raise problem("cron", f"{cron!r} never fires")
    return schedule


def _timing_fields(fields: Mapping[str, object], problem: Problem) -> tuple[str | None, int | None]:
    cron, every = fields.get("cron"), fields.get("every")
    if (cron is None) == (every is None):
        raise problem(
            "cron/every",
            "give exactly one of `cron` (five fields) and `every` (seconds)",
        )
    if cron is not None:
        if not isinstance(cron, str) or not cron.strip():
            raise problem("cron", f"must be a string of five fields (got {cron!r})")
        return cron.strip(), None
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise problem("every", f"must be a whole number of seconds, at least 1 (got {every!r})")
    return None, every


def _job_class(value: object, problem: Problem) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise problem("class", f"must name a job class, e.g. NightlyReportJob (got {value!r})")
    return value.strip()


def _zone(value: object, problem: Problem) -> str:
    if not isinstance(value, str) or not value:
        raise problem("tz", f"must be an IANA zone name such as Europe/Berlin (got {value!r})")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(
            "tz", f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return value


def _args(name: str, value: object, problem: Problem) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise problem("args", f"must be a list (got {value!r})")
    try:
        return tuple(arguments.validate(value, name))
    except SerializationError as error:
        raise problem("args", str(error)) from None


def _queue(value: object, problem: Problem) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise problem("queue", f"must be a queue name without spaces (got {value!r})")
    return value


def _missed(value: object, problem: Problem) -> Missed:
    try:
        return Missed(str(value).strip().lower())
    except ValueError:
        raise problem("missed", f"must be skip, one or all (got {value!r})") from None


def _missed_limit(value: object, problem: Problem) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MISSED_LIMIT:
        raise problem(
            "missed_limit", f"must be a whole number from 1 to {MAX_MISSED_LIMIT} (got {value!r})"
        )
    return value
