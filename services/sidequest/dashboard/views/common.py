"""What every page needs: the Redis client, paging, notices and redirects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis
from flask import redirect, request, session, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from sidequest.dashboard import params, state

NOTICE_SESSION_KEY = "sidequest_notice"


def client() -> redis.Redis:
    return state.current().redis


@dataclass(frozen=True)
class Pager:
    """Page `number` (1-based) of `size` rows out of `total`."""

    number: int
    size: int
    total: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    def window(self, around: int = 2) -> list[int]:
        """Page numbers to link: the first, the last, and a few around this one."""
        shown = {1, self.pages, *range(self.number - around, self.number + around + 1)}
        return sorted(number for number in shown if 1 <= number <= self.pages)


def pager(total: int) -> Pager:
    size = params.page_size(request.args, state.current().config.page_size)
    return Pager(params.page(request.args), size, total)


def notice(text: str) -> None:
    """A one-line message shown on the next page (after a POST's redirect)."""
    session[NOTICE_SESSION_KEY] = text


def take_notice() -> str | None:
    value = session.pop(NOTICE_SESSION_KEY, None)
    return value if isinstance(value, str) else None


def form_value(name: str, limit: int = 500) -> str:
    value = request.form.get(name, "")
    if not value:
        raise BadRequest(f"The form has no {name!r}.")
    if len(value) > limit:
        raise BadRequest(f"The form's {name!r} is longer than {limit} characters.")
    return value


def back_to(endpoint: str, **values: Any) -> Response:
    """Redirect (303, so the browser GETs) to a dashboard page."""
    return redirect(url_for(f".{endpoint}", **values), code=303)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
