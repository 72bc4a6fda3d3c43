"""On/off settings: one parser, and every settings module reads its flags with it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from infra.dev.settings import DevConfigError, DevSettings
from sidequest.dashboard import config as dashboard_config
from sidequest.errors import ConfigError
from sidequest.flags import parse_flag
from web.settings import settings_from

ON = ["1", "true", "yes", "on", "TRUE", "Yes", "ON", "oN", " on ", "True\n"]
OFF = ["0", "false", "no", "off", "FALSE", "No", "OFF", "Off", " off ", "\tfalse"]
REFUSED = ["maybe", "2", "-1", "y", "n", "t", "f", "enabled", "ture", "o n", "1.0", "none"]

# (variable, how one settings module reads it into a bool, its default)
Reader = Callable[[Mapping[str, str]], bool]
REPO = Path(__file__).resolve().parents[3]


def web(attribute: str) -> Reader:
    return lambda values: bool(getattr(settings_from({"SECRET_KEY": "k", **values}), attribute))


def dev_stack(values: Mapping[str, str]) -> bool:
    return DevSettings.from_env({"DEV_DIR": "/tmp/sidequest-flags", **values}, root=REPO).web_dev


def dashboard(values: Mapping[str, str]) -> bool:
    return dashboard_config.from_mapping(values).dev


SETTINGS_FLAGS: dict[str, tuple[str, Reader, bool]] = {
    "web MIGRATE_ON_START": ("MIGRATE_ON_START", web("migrate_on_start"), True),
    "web SIDEQUEST_WEB_DEV": (
        "SIDEQUEST_WEB_DEV",
        web("dashboard_dev"),
        False,
    ),
    "dashboard SIDEQUEST_WEB_DEV": ("SIDEQUEST_WEB_DEV", dashboard, False),
    "make dev SIDEQUEST_WEB_DEV": ("SIDEQUEST_WEB_DEV", dev_stack, False),
}


@pytest.mark.parametrize("text", ON)
def test_the_on_spellings_mean_true_in_any_case(text: str) -> None:
    assert parse_flag("FLAG", text) is True


@pytest.mark.parametrize("text", OFF)
def test_the_off_spellings_mean_false_in_any_case(text: str) -> None:
    assert parse_flag("FLAG", text, default=True) is False


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_unset_or_empty_flag_takes_its_default(value: str | None) -> None:
    assert parse_flag("FLAG", value, default=True) is True
    assert parse_flag("FLAG", value, default=False) is False


def test_booleans_set_from_python_are_taken_as_they_are() -> None:
    assert parse_flag("FLAG", True) is True
    assert parse_flag("FLAG", False, default=True) is False


@pytest.mark.parametrize("text", REFUSED)
def test_anything_else_is_an_error_naming_the_variable_and_the_spellings(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_flag("SIDEQUEST_SOME_FLAG", text)
    message = str(raised.value)
    assert "SIDEQUEST_SOME_FLAG" in message
    assert repr(text) in message
    assert "1/true/yes/on" in message and "0/false/no/off" in message


@pytest.mark.parametrize("flag", SETTINGS_FLAGS.values(), ids=SETTINGS_FLAGS.keys())
def test_every_settings_module_accepts_the_same_on_spellings(
    flag: tuple[str, Reader, bool],
) -> None:
    name, read, _default = flag
    for text in ON:
        assert read({name: text}) is True, text


@pytest.mark.parametrize("flag", SETTINGS_FLAGS.values(), ids=SETTINGS_FLAGS.keys())
def test_every_settings_module_accepts_the_same_off_spellings(
    flag: tuple[str, Reader, bool],
) -> None:
    name, read, _default = flag
    for text in OFF:
        assert read({name: text}) is False, text


@pytest.mark.parametrize("flag", SETTINGS_FLAGS.values(), ids=SETTINGS_FLAGS.keys())
def test_every_settings_module_gives_an_unset_flag_its_default(
    flag: tuple[str, Reader, bool],
) -> None:
    name, read, default = flag
    assert read({}) is default
    assert read({name: ""}) is default


@pytest.mark.parametrize("flag", SETTINGS_FLAGS.values(), ids=SETTINGS_FLAGS.keys())
def test_every_settings_module_refuses_other_values_naming_the_variable(
    flag: tuple[str, Reader, bool],
) -> None:
    name, read, _default = flag
    for text in REFUSED:
        with pytest.raises((ConfigError, DevConfigError)) as raised:
            read({name: text})
        assert name in str(raised.value), text
        assert repr(text) in str(raised.value), text
