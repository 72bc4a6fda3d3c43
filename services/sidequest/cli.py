"""The `sidequest` command: worker, stats, web, enqueue, periodic, queues, cancel,
batches, generate.

    sidequest worker [-C FILE] [-r MODULE]... [-c N] [-q QUEUE[,WEIGHT]]... [-t SECONDS]
    sidequest stats [--json]
    sidequest web [--port 8080] [--host 127.0.0.1] [--redis-url URL] [--dev]
    sidequest enqueue CLASS [JSON_ARGS] [--kwargs JSON] [-r MODULE]... [--queue Q] [--in SECONDS]
    sidequest periodic list|pause NAME|resume NAME|run NAME
    sidequest queues list|pause QUEUE|resume QUEUE
    sidequest cancel JID
    sidequest batches list|show BID
    sidequest generate job NAME [--path DIR] [--test-path DIR]

Settings come from defaults, then the config file, then the environment (REDIS_URL,
SIDEQUEST_*), then flags; a worker whose settings name no Redis uses the URL its -r
modules gave sidequest.configure() (redis_source.py). Configuration errors exit with
status 78 (EX_CONFIG).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click
import redis

import sidequest
from sidequest import api, logs, redis_source
from sidequest.adapter import set_adapter
from sidequest.api import flow_state
from sidequest.batches_command import batches
from sidequest.cli_common import EX_CONFIG, client_redis_url, or_exit, url_source
from sidequest.client import RedisAdapter
from sidequest.config import AUTO_CPUS, Settings, build_settings
from sidequest.connection import check_url, connect, redact
from sidequest.enqueue_command import enqueue
from sidequest.errors import ConfigError
from sidequest.flow_commands import cancel, queues
from sidequest.generator import generate_job
from sidequest.job import registry
from sidequest.limits.declared import apply as apply_limits
from sidequest.middleware import Middleware
from sidequest.outbox_command import outbox
from sidequest.periodic_command import periodic
from sidequest.progress_command import progress
from sidequest.progress_recorder import ProgressRecorder
from sidequest.registered_classes import RegisteredClasses
from sidequest.require import load_modules, log_job_classes
from sidequest.runtime import affinity, timer_slack
from sidequest.runtime.cpu_claims import AutoPin
from sidequest.runtime.launcher import Launcher

__all__ = ["EX_CONFIG", "choose_redis", "load_modules", "main", "run_worker"]

logger = logging.getLogger("sidequest")


@click.group()
@click.version_option(sidequest.__version__, prog_name="sidequest")
def main() -> None:
    """Background jobs on Sidekiq's Redis layout."""


@main.command()
@click.option(
    "-C",
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="sidekiq.yml-shaped config file",
)
@click.option(
    "-r",
    "--require",
    "requires",
    multiple=True,
    help="module, .py file or folder defining jobs (repeatable)",
)
@click.option("-c", "--concurrency", type=int, help="processor threads")
@click.option(
    "--async-concurrency",
    type=int,
    help="jobs with an async perform in flight on the event loop (default 100)",
)
@click.option("-q", "--queue", "queues", multiple=True, help="QUEUE or QUEUE,WEIGHT (repeatable)")
@click.option("-t", "--timeout", type=float, help="shutdown timeout in seconds (default 25)")
@click.option("-g", "--tag", help="tag shown in the dashboard")
@click.option(
    "--redis-url",
    help="Redis to use; wins over REDIS_URL, the config file's redis_url and the URL the "
    "-r modules gave sidequest.configure() (default redis://127.0.0.1:6379/0)",
)
@click.option("--log-format", type=click.Choice(["text", "json"]))
@click.option("--log-level")
@click.option(
    "--cpus",
    help="CPUs to pin the process to, as taskset: 0 or 0,2-3; auto (default): a CPU of "
    "its own while the host's worker processes fit; off: no pinning",
)
@click.option(
    "--enqueue-wait-replicas",
    type=click.IntRange(0),
    help="replicas that must hold a job before an enqueue returns (Redis WAIT; default 0)",
)
@click.option(
    "--enqueue-wait-timeout",
    type=float,
    help="seconds an enqueue waits for those replicas before it fails (default 1)",
)
def worker(
    config_file: str | None,
    requires: tuple[str, ...],
    concurrency: int | None,
    async_concurrency: int | None,
    queues: tuple[str, ...],
    timeout: float | None,
    tag: str | None,
    redis_url: str | None,
    log_format: str | None,
    log_level: str | None,
    cpus: str | None,
    enqueue_wait_replicas: int | None,
    enqueue_wait_timeout: float | None,
) -> None:
    """Run a worker process."""
    overrides: dict[str, Any] = {
        "concurrency": concurrency,
        "async_concurrency": async_concurrency,
        "queues": list(queues) or None,
        "shutdown_timeout": timeout,
        "tag": tag,
        "redis_url": redis_url,
        "log_format": log_format,
        "log_level": log_level,
        "cpus": cpus,
        "enqueue_wait_replicas": enqueue_wait_replicas,
        "enqueue_wait_timeout": enqueue_wait_timeout,
    }
    if requires:
        overrides["require"] = list(requires)
    settings = or_exit(lambda: build_settings(config_file=config_file, overrides=overrides))
    sys.exit(run_worker(settings))


def run_worker(settings: Settings, middleware: Sequence[Middleware] = ()) -> int:
    """Run a worker until SIGTERM/SIGINT; returns the exit status."""
    # Booting (importing jobs, waiting up to 30 s for Redis) holds no job yet, so a stop
    # request then simply ends the process, cleanly: supervisord and Compose stop a
    # worker that is still waiting for Redis as a normal stop, not a crash.
    signal.signal(signal.SIGTERM, _exit_while_booting)
    signal.signal(signal.SIGINT, _exit_while_booting)
    try:
        logs.configure(settings.log_format, settings.log_level)
        load_modules(settings.require)
        apply_limits(settings.limits, registry.resolve)
        log_job_classes()
        settings = choose_redis(settings)
        client = connect(settings.redis_url, source=settings.redis_source.setting)
        set_adapter(RedisAdapter(client, settings.enqueue_wait))
        # What `sidequest enqueue` checks a class name against (registered_classes.py).
        published = RegisteredClasses(client, registry.registered_names())
        # Every worker records its jobs' self.progress(...) calls (sidequest.progress).
        launcher = Launcher(settings, [*middleware, published, ProgressRecorder(client)])
        launcher.check_redis()
        # Before the launcher starts its threads, which inherit both.
        auto_pin = _place(settings)
        timer_slack.tighten()
    except ConfigError as error:
        logs.flush()  # the lines logged so far come before the error
        click.echo(f"error: {error}", err=True)
        return EX_CONFIG
    launcher.install_signal_handlers()
    launcher.start()
    launcher.wait()
    if auto_pin is not None:
        auto_pin.stop()
    return launcher.exit_status


def choose_redis(settings: Settings) -> Settings:
    """The settings with the Redis the worker uses, logged once with where it came from.

    The worker's own settings come first, then what its modules gave
    sidequest.configure(), then the default (`redis_source.choose`).
    """
    choice = redis_source.choose(
        settings.redis_url, settings.redis_source, redis_source.configured()
    )
    if choice.warning is not None:
        logger.warning("%s", choice.warning)
    logger.info("Redis %s (from %s)", redact(choice.url), choice.source)
    return replace(settings, redis_url=choice.url, redis_source=choice.source)


def _place(settings: Settings) -> AutoPin | None:
    """Pin the process to its `cpus`, or let `cpus: auto` find it a CPU of its own."""
    if settings.cpus == AUTO_CPUS:
        return AutoPin.start_if_possible(settings.cpu_claims)
    affinity.pin(settings.cpus)
    return None


def _exit_while_booting(signum: int, frame: FrameType | None) -> None:
    logger.info("stop requested while starting (%s): exiting", signal.Signals(signum).name)
    raise SystemExit(0)


@main.command()
@client_redis_url
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def stats(redis_url: str, as_json: bool) -> None:
    """Queue depth, retries, dead jobs, processed and failed counts."""
    client = or_exit(lambda: connect(redis_url, source=url_source()))
    try:
        snapshot = api.Stats(client).snapshot()
        now = time.time()
        latencies = {queue.name: queue.latency(now) for queue in api.Queue.all(client)}
        flow = flow_state.read(client)
        limits = api.Limits(client).all(now)
    except redis.RedisError as error:
        click.echo(f"error: cannot read {redact(redis_url)}: {error}", err=True)
        sys.exit(1)
    if as_json:
        document = snapshot.as_dict()
        document["latencies"] = latencies
        document["flow_control"] = flow.as_dict()
        document["limits"] = [state.as_dict() for state in limits]
        click.echo(json.dumps(document, indent=2))
        return
    rows = [
        ("Processed", snapshot.processed),
        ("Failed", snapshot.failed),
        ("Busy", snapshot.busy),
        ("Processes", snapshot.processes),
        ("Enqueued", snapshot.enqueued),
        ("Scheduled", snapshot.scheduled),
        ("Retries", snapshot.retries),
        ("Dead", snapshot.dead),
        ("Default latency", f"{snapshot.default_latency:.2f}s"),
    ]
    for label, value in rows:
        click.echo(f"{label:<16} {value}")
    paused = set(flow.paused)
    if snapshot.queues:
        click.echo("")
        click.echo(f"{'Queue':<24} {'Size':>10} {'Latency':>10}")
        for name, size in snapshot.queues.items():
            state = "  paused" if name in paused else ""
            click.echo(f"{name:<24} {size:>10} {latencies.get(name, 0.0):>9.2f}s{state}")
    _print_flow_control(flow)
    _echo_limits(limits)


def _print_flow_control(flow: flow_state.FlowState) -> None:
    """The "Flow control" section: everything api/flow_state.py reads, one part after
    the other (paused queues, counters; the limiters' state goes here as its own part)."""
    click.echo("")
    click.echo("Flow control")
    click.echo(f"  {'Paused queues':<14} {', '.join(flow.paused) or 'none'}")
    for name in flow_state.COUNTERS:
        click.echo(f"  {name.capitalize():<14} {flow.counts.get(name, 0)}")


def _echo_limits(limits: list[api.LimitState]) -> None:
    """The limits table of `sidequest stats`: keys in use, slots or starts, parked jobs."""
    if not limits:
        return
    click.echo("")
    click.echo(f"{'Limit':<32} {'Kind':<12} {'In use':>10} {'Parked':>8}")
    for state in limits:
        window = f"/{state.per:g}s" if state.per is not None else ""
        in_use = f"{state.in_use}/{state.limit}{window}"
        click.echo(f"{state.key:<32} {state.kind:<12} {in_use:>10} {state.parked:>8}")


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@client_redis_url
@click.option(
    "--dev",
    is_flag=True,
    # No envvar=: click would parse SIDEQUEST_WEB_DEV with its own spellings; the
    # dashboard reads it with sidequest.flags, as every other settings module does.
    help="local development run: serve without authentication (loopback host only); "
    "SIDEQUEST_WEB_DEV=on does the same",
)
def web(port: int, host: str, redis_url: str, dev: bool) -> None:
    """Serve the dashboard; basic auth from SIDEQUEST_WEB_USERNAME/SIDEQUEST_WEB_PASSWORD."""
    # Imported here so that worker processes never load Flask.
    from sidequest.dashboard.standalone import run  # noqa: PLC0415

    or_exit(lambda: check_url(redis_url, url_source()))
    or_exit(lambda: run(host, port, redis_url, dev))


main.add_command(enqueue)
main.add_command(periodic)
main.add_command(queues)
main.add_command(cancel)
main.add_command(batches)
main.add_command(outbox)
main.add_command(progress)


@main.group()
def generate() -> None:
    """Write new job modules."""


@generate.command("job")
@click.argument("name")
@click.option("--path", default="jobs", show_default=True, type=click.Path(file_okay=False))
@click.option("--test-path", default="tests", show_default=True, type=click.Path(file_okay=False))
@click.option("--queue", default="default", show_default=True)
@click.option("--force", is_flag=True, help="overwrite existing files")
def generate_job_command(name: str, path: str, test_path: str, queue: str, force: bool) -> None:
    """A job module NAME_job.py and its test (like `rails generate job NAME`)."""
    generated = or_exit(
        lambda: generate_job(
            name, path=Path(path), test_path=Path(test_path), queue=queue, force=force
        )
    )
    click.echo(f"created {generated.job_file}")
    click.echo(f"created {generated.test_file}")
    if generated.hint:
        click.echo(f"next: {generated.hint}")


if __name__ == "__main__":
    main()
