"""What the `sidequest` commands share: the exit status of configuration errors and
the --redis-url of the commands that only talk to Redis (stats, enqueue, web)."""

from __future__ import annotations

import sys
from typing import Any

import click
from click.core import ParameterSource

from sidequest import redis_source
from sidequest.connection import DEFAULT_URL
from sidequest.errors import ConfigError

EX_CONFIG = 78

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
