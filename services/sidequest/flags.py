"""The one parser of on/off settings, used by every settings module of the project.

Accepted, in any case and with surrounding spaces ignored: 1, true, yes, on and 0,
false, no, off. An unset or empty variable takes the setting's default. Anything else
is a ConfigError naming the variable: before there was one parser, SIDEQUEST_WEB_DEV=on
mounted the dev dashboard in one module and not in another, and a typo silently meant
"off".
"""

from __future__ import annotations

from collections.abc import Mapping

from sidequest.errors import ConfigError

TRUE_SPELLINGS = ("1", "true", "yes", "on")
FALSE_SPELLINGS = ("0", "false", "no", "off")


def parse_flag(name: str, value: object, *, default: bool = False) -> bool:
    """The on/off value of setting `name`; None and "" give `default`.

    Values that are already booleans (a Flask config set from Python) are taken as
    they are.

    Raises:
        ConfigError: The value is none of the accepted spellings; the message names
            `name`.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    text = str(value).strip().lower()
    if not text:
        return default
    if text in TRUE_SPELLINGS:
        return True
    if text in FALSE_SPELLINGS:
        return False
    raise ConfigError(
        f"{name} must be on or off: {'/'.join(TRUE_SPELLINGS)} or "
        f"{'/'.join(FALSE_SPELLINGS)} (got {value!r})"
    )


def flag(values: Mapping[str, object], name: str, *, default: bool = False) -> bool:
    """`parse_flag` of `values[name]`, or `default` when it is missing."""
    return parse_flag(name, values.get(name), default=default)
