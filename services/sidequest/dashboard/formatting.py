"""Template filters: times, durations, sizes and argument summaries. Pure, no I/O.

Times render as `<time>` elements: the relative text ("3 minutes ago") for reading,
the absolute UTC time in `title` for hovering and in `datetime` for the page's script,
which keeps the relative text current. Everything is built with markupsafe, which
escapes every interpolated value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from sidequest import keywords

NOTHING = "\N{EN DASH}"  # shown where there is no value
_UNITS = (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def relative(moment: float, now: float) -> str:
    """'3 minutes ago', 'in 2 hours', 'just now'."""
    delta = now - moment
    distance = abs(delta)
    if distance < 1:
        return "just now"
    for name, seconds in _UNITS:
        if distance >= seconds:
            count = int(distance // seconds)
            phrase = f"{count} {name}{'' if count == 1 else 's'}"
            return f"{phrase} ago" if delta > 0 else f"in {phrase}"
    return "just now"  # unreachable: distance >= 1 matches "second"


def _calendar(moment: float) -> datetime | None:
    """The UTC date of `moment`, or None when no calendar reaches it.

    Times come from whatever wrote Redis: a garbage heartbeat or payload can hold NaN
    or a number of seconds beyond the year 9999, and a page must still render.
    """
    try:
        return datetime.fromtimestamp(moment, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def absolute(moment: float) -> str:
    when = _calendar(moment)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else f"{moment!r} (not a date)"


def time_tag(moment: float | None, now: float | None = None) -> Markup:
    if moment is None or moment <= 0:
        return Markup('<span class="muted">never</span>')
    when = _calendar(moment)
    if when is None:
        return Markup('<span class="muted">{}</span>').format(absolute(moment))
    iso = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        iso, absolute(moment), relative(moment, time.time() if now is None else now)
    )


def zoned_time(moment: float | None, zone: str) -> str:
    """`2026-03-29 03:00:00 CEST`: a periodic tick in its schedule's zone."""
    if moment is None:
        return NOTHING
    try:
        return datetime.fromtimestamp(moment, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, OSError, ValueError, ZoneInfoNotFoundError):
        return absolute(moment)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NOTHING
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else f"{seconds * 1000:.2f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def milliseconds(value: float | None) -> str:
    return duration(value / 1000.0) if value is not None else NOTHING


def number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def kilobytes(value: int) -> str:
    if value >= 1024**4:  # no process is that big: a garbage heartbeat, shown as it is
        return f"{value:,} KB"
    if value >= 1024 * 1024:
        return f"{value / (1024 * 1024):.1f} GB"
    if value >= 1024:
        return f"{value / 1024:.0f} MB"
    return f"{value} KB"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def json_text(value: Any, limit: int | None = None) -> str:
    """Compact JSON for a cell; cut at `limit` characters with an ellipsis."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def args_text(args: list[Any], limit: int | None = None) -> str:
    """A job's arguments for a cell: JSON values, then keyword arguments as name=value.

    A keyword hash is shown as the keywords it stands for (`[42, format="pdf"]`), not as
    the trailing dict with ActiveJob's marker that the payload stores.
    """
    positional, named = keywords.split(args)
    if not named:
        return json_text(positional, limit)
    parts = [json_text(value) for value in positional]
    parts += [f"{name}={json_text(value)}" for name, value in named.items()]
    text = "[" + ", ".join(parts) + "]"
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def split_keywords(args: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """(positional, keyword) arguments, for pages that show them apart."""
    return keywords.split(args)


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def truncate(text: str | None, limit: int = 200) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def query(current: dict[str, str], **changes: object) -> str:
    """A query string: the current page's parameters with `changes` applied."""
    merged = {**current, **{name: str(value) for name, value in changes.items()}}
    return urlencode(merged)


FILTERS: dict[str, Callable[..., Any]] = {
    "query": query,
    "time_tag": time_tag,
    "zoned_time": zoned_time,
    "duration": duration,
    "milliseconds": milliseconds,
    "number": number,
    "kilobytes": kilobytes,
    "percent": percent,
    "json_text": json_text,
    "args_text": args_text,
    "split_keywords": split_keywords,
    "pretty_json": pretty_json,
    "truncate_text": truncate,
}
