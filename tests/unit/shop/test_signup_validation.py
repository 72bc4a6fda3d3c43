"""Signup validation: e-mail and name from untrusted input."""

from __future__ import annotations

from typing import Any

import pytest

from shop.accounts import SignupRequest, validate_signup
from shop.errors import InvalidSignup


def test_a_valid_signup_is_normalised() -> None:
    assert validate_signup(
        {"email": " Ada@Example.ORG", "name": "  Ada  Lovelace"}
    ) == SignupRequest(email="ada@example.org", name="Ada Lovelace")


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"email", "name"}),
        ({"name": "Ada"}, {"email"}),
        ({"email": "ada@example.org"}, {"name"}),
        ({"email": "", "name": "Ada"}, {"email"}),
        ({"email": "ada@example.org", "name": "   "}, {"name"}),
        ({"email": "ada@example.org", "name": "x" * 101}, {"name"}),
        ({"email": "ada@example.org", "name": "Ada", "admin": True}, {"admin"}),
        ({"email": 5, "name": None}, {"email", "name"}),
    ],
)
def test_bad_signups_name_every_bad_field(data: dict[str, Any], fields: set[str]) -> None:
    with pytest.raises(InvalidSignup) as caught:
        validate_signup(data)
    assert {problem.field for problem in caught.value.problems} == fields


def test_a_signup_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidSignup, match="expected an object"):
        validate_signup(["ada@example.org", "Ada"])
