"""arguments.validate: only JSON-native values may cross Redis."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sidequest import SerializationError
from sidequest.arguments import validate


class Report:
    """Stands in for a model object someone passes instead of its id."""

    id = 7


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        0,
        -12,
        2**70,
        1.5,
        -0.0,
        True,
        False,
        None,
        [],
        {},
        [1, "two", 3.0, None, True, [4, [5]], {"six": 6}],
        {"nested": {"deeper": [{"a": None}], "n": 1}, "list": [1, 2]},
    ],
)
def test_every_json_native_value_passes(value: Any) -> None:
    assert validate((value,), "ValidJob") == [value]


def test_validate_returns_the_arguments_as_a_list_in_order() -> None:
    assert validate((1, "a", None), "ValidJob") == [1, "a", None]
    assert validate([], "ValidJob") == []


@pytest.mark.parametrize(
    ("value", "described_as"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "datetime.datetime"),
        (date(2024, 1, 2), "datetime.date"),
        ({1, 2}, "set"),
        (frozenset({1}), "frozenset"),
        ((1, 2), "tuple"),
        (Report(), "Report"),
        (Decimal("1.10"), "decimal.Decimal"),
        (b"raw", "bytes"),
        (bytearray(b"raw"), "bytearray"),
        (object(), "object"),
        (1 + 2j, "complex"),
    ],
)
def test_a_non_json_value_raises_serialization_error_naming_its_type(
    value: Any, described_as: str
) -> None:
    with pytest.raises(SerializationError) as raised:
        validate((value,), "NotNativeJob")
    message = str(raised.value)
    assert described_as in message
    assert "NotNativeJob" in message
    assert "argument 1 (args[0])" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_rejected_because_json_has_no_such_numbers(value: float) -> None:
    with pytest.raises(SerializationError, match="NaN or infinity"):
        validate((value,), "FloatJob")


def test_the_error_names_the_position_of_the_bad_argument() -> None:
    with pytest.raises(SerializationError) as raised:
        validate((1, "ok", {3}), "ThirdArgJob")
    assert "argument 3 (args[2])" in str(raised.value)


def test_the_error_gives_the_path_to_a_bad_value_nested_in_lists_and_dicts() -> None:
    when = datetime(2024, 5, 6, tzinfo=UTC)
    with pytest.raises(SerializationError) as raised:
        validate((1, {"filters": [0, {"since": when}]}), "NestedJob")
    message = str(raised.value)
    assert "argument 2 (args[1]['filters'][1]['since'])" in message
    assert "datetime.datetime" in message


def test_a_dict_with_a_non_string_key_is_rejected_naming_the_key() -> None:
    with pytest.raises(SerializationError) as raised:
        validate(({"ok": 1, 2: "two"},), "KeyJob")
    message = str(raised.value)
    assert "non-string key 2" in message
    assert "args[0]" in message


def test_a_tuple_nested_in_a_list_is_rejected_with_advice_to_use_a_list() -> None:
    with pytest.raises(SerializationError) as raised:
        validate(([1, (2, 3)],), "TupleJob")
    message = str(raised.value)
    assert "args[0][1]" in message
    assert "use a list" in message


def test_the_error_advises_passing_an_id_instead_of_an_object() -> None:
    with pytest.raises(SerializationError) as raised:
        validate((Report(),), "ModelJob")
    message = str(raised.value)
    assert re.search(r"\bPass an ID\b", message, re.IGNORECASE)
    assert "JSON-native" in message


def test_serialization_error_is_a_type_error_too() -> None:
    with pytest.raises(TypeError):
        validate(({1},), "SetJob")
