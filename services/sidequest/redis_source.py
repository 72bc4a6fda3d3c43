"""Where a process's Redis URL came from, and which one a worker uses.

A worker takes the first of, highest first:

1. the --redis-url flag
2. the environment variable REDIS_URL
3. `redis_url` in its config file (-C)
4. the URL its -r modules passed to `sidequest.configure(redis_url=...)`
5. the default, redis://127.0.0.1:6379/0

The fourth exists because an application that configures sidequest in code enqueues
there: a worker that ignored it connected to 127.0.0.1:6379 while the application
enqueued elsewhere, and no job ever ran. When the worker's own settings (1-3) name
another URL than the application's, the worker warns at start that jobs the
application enqueues may never reach it.

A client process (a web app, a script) that never called `sidequest.configure()`
enqueues to REDIS_URL, as Sidekiq's clients do (`sidequest.client.from_environment`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from sidequest.connection import redact

Kind = Literal["flag", "environment", "file", "configure", "default"]


@dataclass(frozen=True)
class RedisSource:
    """Where one Redis URL came from.

    Attributes:
        kind: flag, environment, file, configure or default.
        where: The flag, the variable, the config file or the module that called
            sidequest.configure(); empty for the default.
    """

    kind: Kind
    where: str = ""

    def __str__(self) -> str:
        """What the start-up log says: "the environment variable REDIS_URL", ..."""
        if self.kind == "flag":
            return f"the {self.where} flag"
        if self.kind == "environment":
            return f"the environment variable {self.where}"
        if self.kind == "file":
            return f"the config file {self.where}"
        if self.kind == "configure":
            return f"sidequest.configure() in module {self.where}"
        return "the default"

    @property
    def setting(self) -> str:
        """The setting's name in an error about its value: "REDIS_URL must ..."."""
        if self.kind in ("flag", "environment"):
            return self.where
        if self.kind == "file":
            return f"redis_url in the config file {self.where}"
        if self.kind == "configure":
            return f"sidequest.configure(redis_url=...) in module {self.where}"
        return "the default Redis URL"


DEFAULT = RedisSource("default")
FLAG = RedisSource("flag", "--redis-url")
ENVIRONMENT = RedisSource("environment", "REDIS_URL")


@dataclass(frozen=True)
class ConfiguredRedis:
    """A URL given to sidequest.configure(), and by whom."""

    url: str
    source: RedisSource


_configured: ConfiguredRedis | None = None


def caller_module(depth: int = 2) -> str:
    """The module `depth` frames up: who called the function that calls this."""
    return str(sys._getframe(depth).f_globals.get("__name__", "?"))


def remember_configured(url: str, module: str) -> RedisSource:
    """Note that `module` passed `url` to sidequest.configure(); returns its source."""
    global _configured
    source = RedisSource("configure", module)
    _configured = ConfiguredRedis(url, source)
    return source


def configured() -> ConfiguredRedis | None:
    """The URL last given to sidequest.configure() in this process, if any."""
    return _configured


def forget_configured() -> None:
    global _configured
    _configured = None


@dataclass(frozen=True)
class Choice:
    """The worker's Redis, where it came from, and a warning to log when one is due."""

    url: str
    source: RedisSource
    warning: str | None = None


def choose(url: str, source: RedisSource, application: ConfiguredRedis | None) -> Choice:
    """The worker's Redis, from its settings' `url` and `source` and the application's.

    Args:
        url, source: What the worker's settings hold (flag, environment, file or
            default).
        application: What the required modules gave sidequest.configure(), if anything.
    """
    if application is None or application.url == url:
        return Choice(url, source)
    if source.kind == "default":
        return Choice(application.url, application.source)
    return Choice(
        url,
        source,
        f"using Redis {redact(url)} from {source}, not {redact(application.url)} from "
        f"{application.source}: the worker's own settings (flag, environment, config file) "
        "come before sidequest.configure() in its modules. Jobs the application enqueues "
        f"to {redact(application.url)} do not reach this worker.",
    )
