"""`sidequest enqueue`: push a job by class name, Ruby's included.

By name alone nothing checks the job: the push succeeds whatever the name, arguments
and queue. So, without -r, it warns when no live worker watches the queue or has
registered the class (`reach.py`); with -r, it imports the job's module (as a worker
does), refuses an unknown class or arguments `perform` would not take (usage errors,
status 2), and enqueues through the class's perform_later: its queue, retry options,
unique lock and enqueue callbacks, and the Redis a worker with those modules would use.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import click
import redis

from sidequest import api, arguments, keywords, payload, reach, redis_source
from sidequest.adapter import set_adapter
from sidequest.cli_common import client_redis_url, or_exit, url_origin
from sidequest.client import RedisAdapter
from sidequest.connection import connect
from sidequest.errors import ArgumentMismatchError, SerializationError, SidequestError
from sidequest.job import registry
from sidequest.job.base import Job
from sidequest.require import load_modules, shortened


@click.command()
@click.argument("job_class")
@click.argument("json_args", required=False, default="[]")
@click.option(
    "--kwargs", "json_kwargs", help='keyword arguments as a JSON object: {"format": "pdf"}'
)
@click.option(
    "-r",
    "--require",
    "requires",
    multiple=True,
    help="module or .py file defining JOB_CLASS (repeatable): check the class and its "
    "arguments, and enqueue as its perform_later does",
)
@click.option("--queue", help="queue (default: the class's with -r, else default)")
@click.option("--in", "delay", type=float, help="run after this many seconds")
@click.option(
    "--retry", help="true, false or a number of retries (default: the class's, else true)"
)
@client_redis_url
def enqueue(
    job_class: str,
    json_args: str,
    json_kwargs: str | None,
    requires: tuple[str, ...],
    queue: str | None,
    delay: float | None,
    retry: str | None,
    redis_url: str,
) -> None:
    """Enqueue JOB_CLASS (any name, Ruby's included) with a JSON array of arguments.

    Warns when no live worker process watches the queue or has registered the class
    (the job would wait, or fail as unknown and be retried). With -r, refuses a class the modules
    do not define and arguments its perform would not take.
    """
    args, kwargs = _json_call(job_class, json_args, json_kwargs)
    retry_option = None if retry is None else _retry_option(retry)
    checked = _checked_class(job_class, args, kwargs, requires) if requires else None
    # The Redis a worker with the same -r modules would use: the flag, REDIS_URL, then
    # the URL the modules gave sidequest.configure(); without -r, the flag or REDIS_URL.
    choice = redis_source.choose(redis_url, url_origin(), redis_source.configured())
    client = or_exit(lambda: connect(choice.url, source=choice.source.setting))
    try:
        if checked is None:
            queue = queue or "default"
            jid = _push_by_name(client, job_class, args, kwargs, queue, delay, retry_option)
        else:
            job_class, queue, jid = _perform_later(
                client, checked, args, kwargs, queue, delay, retry_option
            )
    except SidequestError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    for warning in _reach_warnings(client, job_class, queue):
        click.echo(f"warning: {warning}", err=True)
    click.echo(jid)


def _push_by_name(
    client: redis.Redis,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    queue: str,
    delay: float | None,
    retry: bool | int | None,
) -> str:
    """Push Sidekiq's payload for `name`, as a Ruby client's push would; returns the jid."""
    stored = keywords.encode(args, kwargs)
    job = payload.build(name, stored, queue=queue, retry=True if retry is None else retry)
    RedisAdapter(client).push(job, at=time.time() + delay if delay else None)
    return str(job["jid"])


def _perform_later(
    client: redis.Redis,
    job_class: type[Job],
    args: list[Any],
    kwargs: dict[str, Any],
    queue: str | None,
    delay: float | None,
    retry: bool | int | None,
) -> tuple[str, str, str]:
    """Enqueue as the class's perform_later does; returns its name, queue and jid."""
    # After the -r modules, which may have installed an adapter of their own.
    set_adapter(RedisAdapter(client))
    job = job_class.set(queue=queue, wait=delay, retry=retry).perform_later(*args, **kwargs)
    if not job.successfully_enqueued:
        click.echo(f"error: not enqueued: {job.duplicate_of} holds its unique lock", err=True)
        sys.exit(1)
    return job_class.job_name, job.queue_name, job.jid


def _json_call(
    job_class: str, json_args: str, json_kwargs: str | None
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments, once JSON-native (click's usage errors else)."""
    args = _json_value(json_args, list, "JSON_ARGS", "a JSON array, e.g. '[42]'")
    kwargs = (
        {}
        if json_kwargs is None
        else _json_value(json_kwargs, dict, "--kwargs", 'a JSON object, e.g. \'{"format": "pdf"}\'')
    )
    try:
        # Python's JSON parser takes NaN, Infinity and 1e400, which JSON itself has not.
        arguments.validate(args, job_class)
    except SerializationError as error:
        raise click.BadParameter(str(error), param_hint="JSON_ARGS") from None
    try:
        arguments.validate_keywords(kwargs, job_class)
    except SerializationError as error:
        raise click.BadParameter(str(error), param_hint="--kwargs") from None
    return args, kwargs


def _json_value(text: str, kind: type[Any], hint: str, example: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint=hint) from None
    if not isinstance(value, kind):
        raise click.BadParameter(f"must be {example}", param_hint=hint)
    return value


def _checked_class(
    name: str, args: list[Any], kwargs: dict[str, Any], requires: Sequence[str]
) -> type[Job]:
    """The job class the -r modules register as `name`, once it takes these arguments."""
    or_exit(lambda: load_modules(requires))
    job_class = registry.resolve(name)
    if job_class is None:
        shown = shortened(registry.registered_names()) or "none"
        raise click.BadParameter(
            f"no job class named {name!r} in {', '.join(requires)} (registered: {shown})",
            param_hint="JOB_CLASS",
        )
    try:
        job_class.check_call(args, kwargs)
    except ArgumentMismatchError as error:
        raise click.BadParameter(str(error), param_hint="JSON_ARGS") from None
    return job_class


def _reach_warnings(client: redis.Redis, job_class: str, queue: str) -> list[str]:
    try:
        return reach.warnings(api.ProcessSet(client).all(), job_class, queue)
    except redis.RedisError:
        return []  # the push reports an unreachable Redis, with its address


def _retry_option(value: str) -> bool | int:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("use true, false or a number", param_hint="--retry") from None
