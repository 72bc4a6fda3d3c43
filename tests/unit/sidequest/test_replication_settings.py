"""enqueue_wait_replicas / enqueue_wait_timeout: the setting's layers and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sidequest import replication
from sidequest.cli import main
from sidequest.config import build_settings
from sidequest.errors import ConfigError
from sidequest.replication import EnqueueWait, ReplicationTimeoutError


def test_off_by_default() -> None:
    assert not build_settings(environ={}).enqueue_wait.enabled
    assert not replication.from_environment({}).enabled


def test_file_environment_and_flag_layer_like_every_setting(tmp_path: Path) -> None:
    config = tmp_path / "sidequest.yml"
    config.write_text(":enqueue_wait_replicas: 1\n:enqueue_wait_timeout: 0.5\n")
    assert build_settings(config_file=config, environ={}).enqueue_wait == EnqueueWait(1, 0.5)
    environ = {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "2"}
    assert build_settings(config_file=config, environ=environ).enqueue_wait == EnqueueWait(2, 0.5)
    flags = {"enqueue_wait_replicas": 3, "enqueue_wait_timeout": 2.0}
    settings = build_settings(config_file=config, environ=environ, overrides=flags)
    assert settings.enqueue_wait == EnqueueWait(3, 2.0)


def test_clients_read_the_environment() -> None:
    environ = {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "1", "SIDEQUEST_ENQUEUE_WAIT_TIMEOUT": "0.25"}
    wait = replication.from_environment(environ)
    assert wait == EnqueueWait(1, 0.25) and wait.timeout_ms == 250


@pytest.mark.parametrize(
    "environ",
    [
        {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "one"},
        {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "-1"},
        {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "1", "SIDEQUEST_ENQUEUE_WAIT_TIMEOUT": "0"},
        {"SIDEQUEST_ENQUEUE_WAIT_REPLICAS": "1", "SIDEQUEST_ENQUEUE_WAIT_TIMEOUT": "soon"},
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variables(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="SIDEQUEST_ENQUEUE_WAIT_REPLICAS"):
        replication.from_environment(environ)


def test_a_bad_worker_setting_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="enqueue_wait_timeout"):
        build_settings(environ={"SIDEQUEST_ENQUEUE_WAIT_TIMEOUT": "-1"})


def test_too_few_confirmations_raise_an_enqueue_error_saying_the_job_is_on_the_master() -> None:
    wait = EnqueueWait(2, 1.0)
    wait.check(2, "Job 1")
    with pytest.raises(
        ReplicationTimeoutError, match="Job 1 is on the Redis master, but only 1 of 2"
    ):
        wait.check(1, "Job 1")


def test_the_worker_flags_reach_the_settings() -> None:
    # A timeout of 0 is refused while the settings are built, before any connection:
    # the error proves the flag got there.
    result = CliRunner().invoke(
        main, ["worker", "--enqueue-wait-replicas", "1", "--enqueue-wait-timeout", "0"]
    )
    assert result.exit_code == 78
    assert "enqueue_wait_timeout must be above 0 seconds" in result.output
