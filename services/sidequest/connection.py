"""Redis connections from a URL, with the timeouts and retry behaviour we rely on.

A URL is redis://, rediss://, unix://, or redis+sentinel:// / rediss+sentinel://
(sentinel.py: a client of the master the sentinels name, following failovers).

Every URL check and error names where the URL came from (`source`: REDIS_URL,
--redis-url, a config file, a sidequest.configure() call), and shows the URL only with
its password masked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sidequest import sentinel
from sidequest.errors import ConfigError
from sidequest.sentinel import CommandRefused

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_T = TypeVar("_T")


_guarded = threading.local()


@contextmanager
def run_at_most_once() -> Iterator[None]:
    """Within: redis-py repeats a command after a connection error only when the error
    proves the command did not run (CommandRefused).

    For writes that must not happen twice, such as an enqueue's LPUSH. A connection that
    breaks after the command was sent may have lost only the reply: the server ran the
    command, and a repeat would push the job a second time, silently (both copies run,
    possibly at once in one worker whose fetch takes them together). The error is
    raised instead, which an enqueue reports as EnqueueError: "may have happened".
    """
    _guarded.active = True
    try:
        yield
    finally:
        _guarded.active = False


class _Retry(Retry):
    """redis-py's Retry, honouring run_at_most_once() for the command it wraps."""

    def call_with_retry(
        self,
        do: Callable[[], _T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> _T:
        if not getattr(_guarded, "active", False):
            return super().call_with_retry(do, fail, is_retryable, with_failure_count)

        def fail_unless_refused(error: Exception, *count: int) -> None:
            # The handler still runs (it drops the connection, whose unread reply could
            # otherwise answer the next command); raising from it ends the retry loop.
            fail(error, *count)
            if not isinstance(error, CommandRefused):
                raise error

        # Calls nested in this one (the connect, the health check's PING) are idempotent
        # and keep their repeat: only the guarded command itself is run at most once.
        _guarded.active = False
        try:
            return super().call_with_retry(
                do, fail_unless_refused, is_retryable, with_failure_count
            )
        finally:
            _guarded.active = True


# redis-py also takes the password as a query parameter (`?password=...`), and sentinel
# URLs the sentinels' (`?sentinel_password=...`).
_QUERY_PASSWORD = re.compile(r"([?&](?:sentinel_)?password=)[^&#]*", re.IGNORECASE)


def connect(
    url: str,
    *,
    retries: int = 1,
    socket_timeout: float | None = 5.0,
    max_connections: int | None = None,
    source: str = "REDIS_URL",
) -> redis.Redis:
    """A client for `url` (redis://, rediss://, unix:// or a sentinel URL) returning bytes.

    Args:
        retries: how often redis-py repeats a command after a connection error. One
            repeat covers a pooled connection that went stale across a Redis restart.
            The worker runtime passes 0 and handles errors itself, because a repeated
            fetch could move jobs twice; enqueues run under run_at_most_once().
        socket_timeout: seconds to wait for a reply; blocking commands must use less.
        source: what the URL came from, for the error when it is malformed.

    Raises:
        ConfigError: The URL is malformed; the message names `source`.
    """
    check_url(url, source)
    options = {
        "socket_connect_timeout": 5.0,
        "socket_keepalive": True,
        "health_check_interval": 15,
        "retry": _Retry(NoBackoff(), retries),
        "max_connections": max_connections,
    }
    if sentinel.is_sentinel(url):
        return sentinel.master_client(
            url, source=source, socket_timeout=socket_timeout, connection=options
        )
    try:
        return redis.Redis.from_url(url, socket_timeout=socket_timeout, **options)
    except ValueError as error:
        # redis-py's own checks: a query option (?db=x, ?socket_timeout=...) it cannot use.
        raise ConfigError(
            f"{source} is not a usable Redis URL: {error} ({redact(url)!r})"
        ) from None


def check_url(url: str, source: str = "REDIS_URL") -> None:
    """Raise ConfigError, naming `source`, unless `url` looks like a Redis URL."""
    if sentinel.is_sentinel(url):
        sentinel.parse(url, source)
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number 0-65535
    except ValueError as error:
        raise ConfigError(f"{source} is not a valid URL: {error} ({redact(url)!r})") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"{source} must start with redis://, rediss://, unix://, redis+sentinel:// or "
            f"rediss+sentinel:// (got {redact(url)!r})"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{source} has no host: {redact(url)!r}")


def redact(url: str) -> str:
    """The URL with its password replaced, for logs and error messages.

    Works on text that is no valid URL too: error messages show such URLs as well.
    """
    scheme, separator, rest = url.partition("://")
    if separator:
        # Up to the last "@" before the query: a password with an unescaped "/" or "@"
        # is masked whole, not cut where a URL parser would end the host.
        end = min((i for i in map(rest.find, "?#") if i >= 0), default=len(rest))
        userinfo, at, after = rest[:end].rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.partition(":")[0]
            url = f"{scheme}://{user}:***@{after}{rest[end:]}"
    return _QUERY_PASSWORD.sub(r"\1***", url)
