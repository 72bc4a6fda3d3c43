"""Redis connections from a URL, with the timeouts and retry behaviour we rely on."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sidequest.errors import ConfigError

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def connect(
    url: str,
    *,
    retries: int = 1,
    socket_timeout: float | None = 5.0,
    max_connections: int | None = None,
) -> redis.Redis:
    """A client for `url` (redis://, rediss:// or unix://) returning bytes.

    Args:
        retries: how often redis-py repeats a command after a connection error. One
            repeat covers a pooled connection that went stale across a Redis restart.
            The worker runtime passes 0 and handles errors itself, because a repeated
            fetch could move jobs twice.
        socket_timeout: seconds to wait for a reply; blocking commands must use less.
    """
    check_url(url)
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(NoBackoff(), retries),
        max_connections=max_connections,
    )


def check_url(url: str) -> None:
    """Raise ConfigError unless `url` looks like a Redis URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss:// or unix:// (got {redact(url)!r})"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"REDIS_URL has no host: {redact(url)!r}")


def redact(url: str) -> str:
    """The URL with its password replaced, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
