"""What the `sidequest` commands share: the exit status of configuration errors and
the --redis-url of the commands that only talk to Redis (stats, enqueue, web)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import redis
from click.core import ParameterSource

from sidequest import redis_source
from sidequest.connection import DEFAULT_URL, connect, redact
from sidequest.errors import ConfigError

EX_CONFIG = 78

T = TypeVar("T")

#: --redis-url of the commands that only talk to Redis (stats, web, enqueue): the flag,
#: else REDIS_URL, as a Sidekiq client reads it. Click shows no envvar in --help unless
#: asked, and users reading the help did not learn that REDIS_URL is read (issue 22).
client_redis_url = click.option(
    "--redis-url",
    envvar="REDIS_URL",
    default=DEFAULT_URL,
    show_default=True,
    show_envvar=True,
    help="Redis to use",
)


def url_source() -> str:
    """What a malformed --redis-url of the running command is called in its error."""
    return url_origin().setting


def url_origin() -> redis_source.RedisSource:
    """Where the running command's --redis-url came from: the flag, REDIS_URL or neither."""
    source = click.get_current_context().get_parameter_source("redis_url")
    if source is ParameterSource.COMMANDLINE:
        return redis_source.FLAG
    if source is ParameterSource.ENVIRONMENT:
        return redis_source.ENVIRONMENT
    return redis_source.DEFAULT


def or_exit(action: Any) -> Any:
    """action(), or exit with EX_CONFIG and the error on one line when it is a ConfigError."""
    try:
        return action()
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EX_CONFIG)


def talk(redis_url: str, action: Callable[[redis.Redis], T]) -> T:
    """action(client) on the Redis at `redis_url`, for a command that only talks to Redis.

    A bad --redis-url exits as `or_exit` does; a Redis that cannot be used exits with
    status 1 and a message naming the redacted URL. The client is closed either way.
    """
    client = or_exit(lambda: connect(redis_url, source=url_source()))
    try:
        return action(client)
    except redis.RedisError as error:
        click.echo(f"error: cannot use {redact(redis_url)}: {error}", err=True)
        sys.exit(1)
    finally:
        client.close()
