"""Where the Redis URL came from: settings layers, sidequest.configure(), the worker's choice.

No server: these check the decisions and messages; tests/integration/sidequest/
test_redis_source.py and test_client.py check them against real redis-servers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import sidequest
from sidequest import ConfigError, adapter, redis_source
from sidequest.cli import choose_redis
from sidequest.config import Settings, build_settings
from sidequest.connection import DEFAULT_URL, check_url, redact
from sidequest.redis_source import DEFAULT, ENVIRONMENT, FLAG, ConfiguredRedis, RedisSource, choose
from sidequest.testing import FakeAdapter

APP_URL = "redis://app-redis:6379/2"
WORKER_URL = "redis://:s3cret@worker-redis:6379/0"


@pytest.fixture
def restored() -> Iterator[None]:
    """Undo what sidequest.configure() installs and records."""
    previous = adapter._current
    yield
    adapter.set_adapter(previous)
    redis_source.forget_configured()


# -- the settings layers ---------------------------------------------------------------


def test_the_default_url_comes_from_the_default() -> None:
    settings = build_settings(environ={})
    assert (settings.redis_url, settings.redis_source) == (DEFAULT_URL, DEFAULT)


def test_each_layer_records_itself_as_the_source_and_the_highest_wins(tmp_path: Path) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(":redis_url: redis://from-file:6379/0\n")
    from_file = build_settings(config_file=config, environ={})
    assert from_file.redis_source == RedisSource("file", str(config))
    assert str(from_file.redis_source) == f"the config file {config}"

    from_env = build_settings(config_file=config, environ={"REDIS_URL": "redis://env:1/0"})
    assert (from_env.redis_url, from_env.redis_source) == ("redis://env:1/0", ENVIRONMENT)

    from_flag = build_settings(
        config_file=config,
        environ={"REDIS_URL": "redis://env:1/0"},
        overrides={"redis_url": "redis://flag:1/0"},
    )
    assert (from_flag.redis_url, from_flag.redis_source) == ("redis://flag:1/0", FLAG)


def test_a_file_without_redis_url_leaves_the_source_to_the_other_layers(tmp_path: Path) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(":concurrency: 3\n")
    assert build_settings(config_file=config, environ={}).redis_source == DEFAULT
    assert build_settings(config_file=config, environ={"REDIS_URL": ""}).redis_source == DEFAULT


def test_a_malformed_url_is_named_by_the_layer_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(":redis_url: localhost:6379\n")
    with pytest.raises(ConfigError, match=f"^redis_url in the config file {config} must start"):
        build_settings(config_file=config, environ={})
    with pytest.raises(ConfigError, match=r"^REDIS_URL must start"):
        build_settings(environ={"REDIS_URL": "localhost:6379"})
    with pytest.raises(ConfigError, match=r"^--redis-url has no host"):
        build_settings(environ={}, overrides={"redis_url": "redis://"})


# -- what the log and errors call each source ------------------------------------------


@pytest.mark.parametrize(
    ("source", "described", "setting"),
    [
        (FLAG, "the --redis-url flag", "--redis-url"),
        (ENVIRONMENT, "the environment variable REDIS_URL", "REDIS_URL"),
        (
            RedisSource("file", "/etc/sq.yml"),
            "the config file /etc/sq.yml",
            "redis_url in the config file /etc/sq.yml",
        ),
        (
            RedisSource("configure", "myapp.jobs"),
            "sidequest.configure() in module myapp.jobs",
            "sidequest.configure(redis_url=...) in module myapp.jobs",
        ),
        (DEFAULT, "the default", "the default Redis URL"),
    ],
)
def test_each_source_names_itself(source: RedisSource, described: str, setting: str) -> None:
    assert (str(source), source.setting) == (described, setting)


# -- sidequest.configure() -------------------------------------------------------------


def test_configure_records_the_url_and_the_module_that_called_it(restored: None) -> None:
    sidequest.configure(redis_url=APP_URL)
    assert redis_source.configured() == ConfiguredRedis(APP_URL, RedisSource("configure", __name__))


def test_configure_with_an_adapter_records_no_url(restored: None) -> None:
    redis_source.forget_configured()
    sidequest.configure(adapter=FakeAdapter())
    assert redis_source.configured() is None


def test_a_malformed_url_given_to_configure_names_the_calling_module(restored: None) -> None:
    redis_source.forget_configured()
    with pytest.raises(ConfigError) as raised:
        sidequest.configure(redis_url="http://:pw@app-redis:6379/0")
    assert str(raised.value).startswith(
        f"sidequest.configure(redis_url=...) in module {__name__} must start with redis://"
    )
    assert ":pw@" not in str(raised.value)
    assert redis_source.configured() is None, "a refused URL is not recorded"


# -- the worker's choice ---------------------------------------------------------------

APPLICATION = ConfiguredRedis(APP_URL, RedisSource("configure", "myapp.jobs"))


def test_without_configure_the_worker_keeps_its_settings() -> None:
    assert choose(WORKER_URL, ENVIRONMENT, None) == redis_source.Choice(WORKER_URL, ENVIRONMENT)


def test_configure_fills_in_when_the_worker_has_only_the_default() -> None:
    choice = choose(DEFAULT_URL, DEFAULT, APPLICATION)
    assert (choice.url, choice.source, choice.warning) == (APP_URL, APPLICATION.source, None)


@pytest.mark.parametrize("source", [FLAG, ENVIRONMENT, RedisSource("file", "sq.yml")])
def test_the_workers_own_setting_wins_and_the_warning_says_which_and_why(
    source: RedisSource,
) -> None:
    choice = choose(WORKER_URL, source, APPLICATION)

    assert (choice.url, choice.source) == (WORKER_URL, source)
    assert choice.warning is not None
    assert choice.warning.startswith(
        f"using Redis redis://:***@worker-redis:6379/0 from {source}, not {APP_URL} from "
        "sidequest.configure() in module myapp.jobs: the worker's own settings"
    )
    assert "s3cret" not in choice.warning


def test_the_same_url_in_both_places_is_no_conflict() -> None:
    assert choose(APP_URL, ENVIRONMENT, APPLICATION).warning is None


def test_the_worker_logs_its_redis_once_with_the_source(
    caplog: pytest.LogCaptureFixture, restored: None
) -> None:
    redis_source.forget_configured()
    with caplog.at_level(logging.INFO, logger="sidequest"):
        chosen = choose_redis(Settings())
    assert chosen == Settings()
    assert [record.getMessage() for record in caplog.records] == [
        f"Redis {DEFAULT_URL} (from the default)"
    ]


def test_the_worker_takes_the_configured_url_into_its_settings(
    caplog: pytest.LogCaptureFixture, restored: None
) -> None:
    redis_source.remember_configured(APP_URL, "myapp.jobs")
    with caplog.at_level(logging.INFO, logger="sidequest"):
        chosen = choose_redis(Settings())
    assert (chosen.redis_url, chosen.redis_source) == (APP_URL, APPLICATION.source)
    assert caplog.messages == [f"Redis {APP_URL} (from sidequest.configure() in module myapp.jobs)"]


# -- URLs in messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:secret@h:6380/1", "rediss://user:***@h:6380/1"),
        ("redis://user:se@cret@h/0", "redis://user:***@h/0"),
        ("redis://h:6379/0?password=secret&db=1", "redis://h:6379/0?password=***&db=1"),
        ("unix://:secret@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("redis://:sec/ret@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://:secret@[::1/0", "redis://:***@[::1/0"),
        ("redis://user@h:6379/0", "redis://user@h:6379/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_redact_masks_the_password_wherever_the_url_holds_it(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://h:port/0", "SOURCE is not a valid URL"),
        ("redis://h:70000/0", "SOURCE is not a valid URL"),
        ("redis://[::1/0", "SOURCE is not a valid URL"),
        ("h:6379", "SOURCE must start with redis://"),
        ("redis://", "SOURCE has no host"),
    ],
)
def test_check_url_names_its_source(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=f"^{complaint}"):
        check_url(url, "SOURCE")
