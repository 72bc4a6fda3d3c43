"""config.build_settings: defaults < sidekiq.yml-shaped file < environment < flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidequest import ConfigError
from sidequest.config import QueueSpec, Settings, build_settings, parse_queue

WITH_COLONS = """\
:concurrency: 5
:queues:
  - default
  - mailers
  - [critical, 3]
"""

WITHOUT_COLONS = """\
concurrency: 5
queues:
  - default
  - mailers
  - [critical, 3]
"""

EXPECTED_QUEUES = (QueueSpec("default"), QueueSpec("mailers"), QueueSpec("critical", 3))


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sidequest.yml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = build_settings(environ={})
    assert settings == Settings()
    assert settings.concurrency == 5
    assert settings.queues == (QueueSpec("default"),)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.shutdown_timeout == 25.0
    assert not settings.weighted


@pytest.mark.parametrize("text", [WITH_COLONS, WITHOUT_COLONS], ids=["colons", "plain"])
def test_the_issue_example_file_is_read_with_or_without_leading_colons(
    tmp_path: Path, text: str
) -> None:
    settings = build_settings(config_file=_file(tmp_path, text), environ={})
    assert settings.concurrency == 5
    assert settings.queues == EXPECTED_QUEUES
    assert settings.weighted


def test_sidekiqs_timeout_key_is_the_shutdown_timeout(tmp_path: Path) -> None:
    settings = build_settings(config_file=_file(tmp_path, ":timeout: 8\n"), environ={})
    assert settings.shutdown_timeout == 8.0


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert build_settings(config_file=_file(tmp_path, ""), environ={}) == Settings()


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = build_settings(
        config_file=_file(tmp_path, WITH_COLONS),
        environ={"REDIS_URL": "redis://cache.internal:6380/2", "SIDEQUEST_CONCURRENCY": "12"},
    )
    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.concurrency == 12
    assert settings.queues == EXPECTED_QUEUES


def test_queues_from_the_environment_take_weights(tmp_path: Path) -> None:
    settings = build_settings(
        config_file=_file(tmp_path, WITH_COLONS), environ={"SIDEQUEST_QUEUES": "low critical,2"}
    )
    assert settings.queues == (QueueSpec("low"), QueueSpec("critical", 2))


def test_an_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    settings = build_settings(
        config_file=_file(tmp_path, WITH_COLONS), environ={"SIDEQUEST_CONCURRENCY": ""}
    )
    assert settings.concurrency == 5


def test_explicit_overrides_win_over_environment_and_file(tmp_path: Path) -> None:
    settings = build_settings(
        config_file=_file(tmp_path, WITH_COLONS),
        environ={"REDIS_URL": "redis://env-host:6379/0", "SIDEQUEST_CONCURRENCY": "12"},
        overrides={
            "concurrency": 3,
            "redis_url": "redis://flag-host:6379/1",
            "queues": ["only"],
            "shutdown_timeout": None,
        },
    )
    assert settings.concurrency == 3
    assert settings.redis_url == "redis://flag-host:6379/1"
    assert settings.queues == (QueueSpec("only"),)
    assert settings.shutdown_timeout == 25.0


def test_an_unknown_key_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = _file(tmp_path, ":concurrency: 5\n:queuez:\n  - default\n")
    with pytest.raises(ConfigError, match="queuez") as raised:
        build_settings(config_file=path, environ={})
    assert "known:" in str(raised.value)


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = _file(tmp_path, ":queues: [default, [critical, 3\n:concurrency: 5\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_settings(config_file=path, environ={})


def test_a_file_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        build_settings(config_file=_file(tmp_path, "- default\n- mailers\n"), environ={})


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        build_settings(config_file=tmp_path / "absent.yml", environ={})


@pytest.mark.parametrize(
    ("queues", "complaint"),
    [
        ("[[critical, three]]", "whole number"),
        ("[[critical, 1.5]]", "whole number"),
        ("[[critical, -1]]", "negative"),
        ("[[critical, 3, 4]]", "a queue must be"),
        ("[[]]", "a queue must be"),
        ("['two words']", "invalid queue name"),
        ("['']", "invalid queue name"),
        ("[]", "empty"),
        ("{default: 1}", "must be a list"),
        ("7", "must be a list"),
    ],
)
def test_bad_queue_specs_are_config_errors(tmp_path: Path, queues: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        build_settings(config_file=_file(tmp_path, f"queues: {queues}\n"), environ={})


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("default", QueueSpec("default")),
        ("critical,3", QueueSpec("critical", 3)),
        (" critical , 3 ", QueueSpec("critical", 3)),
        (["critical", 3], QueueSpec("critical", 3)),
        (["critical", "3"], QueueSpec("critical", 3)),
        (["low"], QueueSpec("low")),
        ({"critical": 3}, QueueSpec("critical", 3)),
    ],
)
def test_queue_entries_in_every_accepted_spelling(entry: object, expected: QueueSpec) -> None:
    assert parse_queue(entry) == expected


@pytest.mark.parametrize(
    "where",
    ["flag", "environment", "file", "file-list-entry"],
)
def test_a_queue_written_name_colon_weight_is_refused_showing_name_comma_weight(
    tmp_path: Path, where: str
) -> None:
    # Taken as a name, `critical:3` would be a queue nobody enqueues to.
    files = {"file": "queues: ['critical:3']\n", "file-list-entry": "queues: [[critical:3, 2]]\n"}
    with pytest.raises(ConfigError) as raised:
        build_settings(
            config_file=_file(tmp_path, files[where]) if where in files else None,
            environ={"SIDEQUEST_QUEUES": "default critical:3"} if where == "environment" else {},
            overrides={"queues": ["critical:3"]} if where == "flag" else None,
        )
    assert "'critical:3'" in str(raised.value)
    assert "critical,3" in str(raised.value)


@pytest.mark.parametrize("name", ["mailers:low", "v2:reports", "3:", ":3x"])
def test_queue_names_with_a_colon_but_no_weight_after_it_are_kept(name: str) -> None:
    assert parse_queue(name) == QueueSpec(name)


def test_duplicate_queues_keep_their_first_spelling(tmp_path: Path) -> None:
    path = _file(tmp_path, "queues: [default, [default, 5], low]\n")
    settings = build_settings(config_file=path, environ={})
    assert settings.queues == (QueueSpec("default"), QueueSpec("low"))


@pytest.mark.parametrize("value", ["many", "[1]", "{a: 1}"])
def test_a_bad_concurrency_in_the_file_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        build_settings(config_file=_file(tmp_path, f"concurrency: {value}\n"), environ={})


@pytest.mark.parametrize("value", ["2.5", "true"])
def test_a_concurrency_that_is_not_a_whole_number_is_refused_not_truncated(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        build_settings(config_file=_file(tmp_path, f"concurrency: {value}\n"), environ={})


@pytest.mark.parametrize("value", ["0", "-4", "ten", "2.5"])
def test_a_bad_concurrency_in_the_environment_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        build_settings(environ={"SIDEQUEST_CONCURRENCY": value})


@pytest.mark.parametrize(
    "setting", [":timeout: -1", ":timeout: .inf", ":timeout: .nan", ":timeout_grace: soon"]
)
def test_bad_shutdown_numbers_are_config_errors(tmp_path: Path, setting: str) -> None:
    with pytest.raises(ConfigError):
        build_settings(config_file=_file(tmp_path, setting + "\n"), environ={})


def test_a_heartbeat_timeout_too_close_to_the_interval_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "heartbeat_interval: 5\nheartbeat_timeout: 9\n")
    with pytest.raises(ConfigError, match="heartbeat_timeout"):
        build_settings(config_file=path, environ={})


def test_a_nan_heartbeat_timeout_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "heartbeat_timeout: .nan\n")
    with pytest.raises(ConfigError, match="heartbeat_timeout"):
        build_settings(config_file=path, environ={})


def test_a_bad_log_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="log_format"):
        build_settings(environ={"SIDEQUEST_LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    "url",
    ["localhost:6379", "http://localhost:6379", "redis://", "127.0.0.1", "postgres://db/1"],
)
def test_a_bad_redis_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        build_settings(environ={"REDIS_URL": url})


def test_a_bad_redis_url_error_does_not_show_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        build_settings(environ={"REDIS_URL": "http://user:s3cret@host:6379"})
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://user:pw@host:6380/1", "unix:///run/redis.sock"]
)
def test_good_redis_urls_are_accepted(url: str) -> None:
    assert build_settings(environ={"REDIS_URL": url}).redis_url == url


def test_the_machine_environment_does_not_leak_into_an_explicit_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("SIDEQUEST_") or name in ("REDIS_URL", "LOG_FORMAT"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIDEQUEST_CONCURRENCY", "77")
    assert build_settings(environ={}).concurrency == 5
    assert build_settings().concurrency == 77


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cpus: 1", (1,)),
        ("cpus: '0,2-3'", (0, 2, 3)),
        ("cpus: [3, '0-1']", (0, 1, 3)),
        ("cpus: ' 1 , 1 '", (1,)),
        ("cpus: ''", ()),
        ("cpus: 'off'", ()),
        ("cpus: none", ()),
        ("cpus: Auto", "auto"),
    ],
)
def test_cpus_are_read_in_tasksets_notation_or_as_a_list(
    tmp_path: Path, line: str, expected: tuple[int, ...] | str
) -> None:
    settings = build_settings(config_file=_file(tmp_path, line + "\n"), environ={})
    assert settings.cpus == expected


def test_cpus_default_to_auto_and_come_from_the_environment() -> None:
    assert build_settings(environ={}).cpus == "auto"
    assert build_settings(environ={"SIDEQUEST_CPUS": "0-2"}).cpus == (0, 1, 2)
    assert build_settings(environ={"SIDEQUEST_CPUS": "off"}).cpus == ()


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("x", "'x' is not a CPU number"),
        ("-1", "'-1' is not a CPU number"),
        ("3-1", "runs backwards"),
        ("1-", "'1-' is not a CPU number"),
        ("1.5", "'1.5' is not a CPU number"),
        ("\u00b2", "is not a CPU number"),
        ("0-99999999", "goes past CPU 65535"),
    ],
)
def test_a_bad_cpu_list_is_a_config_error_saying_what_is_wrong(value: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match="cpus: ") as raised:
        build_settings(environ={"SIDEQUEST_CPUS": value})
    assert complaint in str(raised.value)


def test_cpus_that_are_no_list_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a CPU list"):
        build_settings(config_file=_file(tmp_path, "cpus: {a: 1}\n"), environ={})
    with pytest.raises(ConfigError, match="not a CPU list"):
        build_settings(config_file=_file(tmp_path, "cpus: true\n"), environ={})
