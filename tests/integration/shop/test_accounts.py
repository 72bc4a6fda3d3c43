"""Accounts: signup from untrusted input, duplicates, default preferences."""

from __future__ import annotations

import threading

import pytest

from shop.accounts import (
    DEFAULT_PREFERENCES,
    create_user,
    delete_user,
    find_user_by_email,
    load_preferences,
    load_user,
    setup_default_preferences,
)
from shop.db import SessionFactory
from shop.errors import DuplicateEmail, InvalidSignup, UserNotFound


def test_a_valid_signup_creates_a_user_that_loads_back(session_factory: SessionFactory) -> None:
    user = create_user(
        session_factory, {"email": "  Ada.Lovelace@Example.org ", "name": " Ada   Lovelace "}
    )

    assert user.email == "ada.lovelace@example.org"
    assert user.name == "Ada Lovelace"
    assert user.id > 0
    assert load_user(session_factory, user.id) == user
    assert load_user(session_factory, str(user.id)) == user
    assert find_user_by_email(session_factory, "ADA.LOVELACE@example.org") == user


def test_the_same_address_in_another_case_is_a_duplicate(session_factory: SessionFactory) -> None:
    create_user(session_factory, {"email": "grace@example.org", "name": "Grace"})
    with pytest.raises(DuplicateEmail, match=r"grace@example\.org"):
        create_user(session_factory, {"email": "GRACE@example.org", "name": "Grace Again"})


def test_racing_signups_with_one_address_create_one_user(session_factory: SessionFactory) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def sign_up() -> None:
        start.wait()
        try:
            create_user(session_factory, {"email": "race@example.org", "name": "Racer"})
            outcomes.append("created")
        except DuplicateEmail:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=sign_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]


def test_invalid_signups_are_refused_without_storing_anything(
    session_factory: SessionFactory,
) -> None:
    with pytest.raises(InvalidSignup) as caught:
        create_user(session_factory, {"email": "nobody", "name": ""})
    assert {p.field for p in caught.value.problems} == {"email", "name"}
    assert find_user_by_email(session_factory, "nobody") is None


def test_default_preferences_are_created_once(session_factory: SessionFactory) -> None:
    user = create_user(session_factory, {"email": "pref@example.org", "name": "Pref"})
    assert load_preferences(session_factory, user.id) is None

    first = setup_default_preferences(session_factory, user.id)
    second = setup_default_preferences(session_factory, user.id)

    assert first == second
    assert first.user_id == user.id
    assert {
        "report_emails": first.report_emails,
        "weekly_digest": first.weekly_digest,
        "timezone": first.timezone,
    } == DEFAULT_PREFERENCES
    assert load_preferences(session_factory, user.id) == first


# "\uff11\uff12" is 12 in fullwidth digits: str.isdigit() accepts it, int ids must not.
@pytest.mark.parametrize("user_id", [999_999, 0, -1, "abc", None, True, "\uff11\uff12"])
def test_unknown_or_malformed_user_ids_raise_user_not_found(
    session_factory: SessionFactory, user_id: object
) -> None:
    with pytest.raises(UserNotFound):
        load_user(session_factory, user_id)
    with pytest.raises(UserNotFound):
        setup_default_preferences(session_factory, user_id)


def test_a_deleted_user_is_gone_with_their_preferences_and_the_address_is_free_again(
    session_factory: SessionFactory,
) -> None:
    user = create_user(session_factory, {"email": "del@example.org", "name": "Del"})
    setup_default_preferences(session_factory, user.id)

    delete_user(session_factory, user.id)

    with pytest.raises(UserNotFound):
        load_user(session_factory, user.id)
    assert load_preferences(session_factory, user.id) is None
    with pytest.raises(UserNotFound):
        delete_user(session_factory, user.id)
    assert create_user(session_factory, {"email": "del@example.org", "name": "Del"}).id > 0
