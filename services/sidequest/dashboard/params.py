"""Query and form parameters, each with a bound: no request may scan or render without
limit (Sidekiq's CVE-2022-23837 was an unbounded `days`). A value out of bounds is a
400 with a sentence that says what is allowed, never a silent clamp.
"""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.exceptions import BadRequest

PAGE_SIZES = (10, 25, 50, 100)
MAX_PAGE = 100_000
HISTORY_DAYS = (7, 30, 90, 180)
POLL_SECONDS = (2, 5, 10, 30, 60)
MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 60
MAX_FILTER_LENGTH = 200
MAX_SELECTED = 100  # entries one bulk form may name: the largest page size


class ParameterError(BadRequest):
    def __init__(self, name: str, problem: str):
        super().__init__(description=f"Parameter {name!r}: {problem}")


def integer(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(name, f"{raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise ParameterError(name, f"must be between {low} and {high}, got {value}")
    return value


def choice(args: Mapping[str, str], name: str, default: int, allowed: tuple[int, ...]) -> int:
    value = integer(args, name, default, min(allowed), max(allowed))
    if value not in allowed:
        shown = ", ".join(str(option) for option in allowed)
        raise ParameterError(name, f"must be one of {shown}, got {value}")
    return value


def word(args: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = args.get(name) or default
    if value not in allowed:
        raise ParameterError(name, f"must be one of {', '.join(allowed)}")
    return value


def page(args: Mapping[str, str]) -> int:
    """1-based page number."""
    return integer(args, "page", 1, 1, MAX_PAGE)


def page_size(args: Mapping[str, str], default: int) -> int:
    return choice(args, "per_page", default, PAGE_SIZES)


def history_days(args: Mapping[str, str]) -> int:
    return choice(args, "days", 30, HISTORY_DAYS)


def poll_seconds(args: Mapping[str, str]) -> int:
    return integer(args, "poll", 5, MIN_POLL_SECONDS, MAX_POLL_SECONDS)


def filter_text(args: Mapping[str, str]) -> str:
    """The filter box: empty for none; at most MAX_FILTER_LENGTH characters."""
    value = (args.get("filter") or "").strip()
    if len(value) > MAX_FILTER_LENGTH:
        raise ParameterError("filter", f"must be at most {MAX_FILTER_LENGTH} characters")
    return value
