"""User accounts: signing up from untrusted input, default preferences, loading users."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.db.conflicts import insert_unless_present
from shop.db.engine import SessionFactory, read_session, write_session
from shop.errors import DuplicateEmail, InvalidSignup, Problem, UserNotFound
from shop.models import Preference, User, table_of, utcnow
from shop.validation import clean_display_name, normalize_email

MAX_NAME_LENGTH = 100
SIGNUP_FIELDS = ("email", "name")
DEFAULT_PREFERENCES = {"report_emails": True, "weekly_digest": False, "timezone": "UTC"}


@dataclass(frozen=True)
class SignupRequest:
    """A checked signup: a lower-cased e-mail address and a tidy name."""

    email: str
    name: str


@dataclass(frozen=True)
class UserRecord:
    """A user as stored."""

    id: int
    email: str
    name: str
    created_at: datetime

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view for APIs."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class PreferencesRecord:
    """A user's preferences as stored."""

    user_id: int
    report_emails: bool
    weekly_digest: bool
    timezone: str


def validate_signup(data: object) -> SignupRequest:
    """Check untrusted signup input shaped like `{"email": ..., "name": ...}`.

    The whole address is lower-cased: people type the same address in varying case
    and expect it to be the same account.

    Raises:
        InvalidSignup: The input is not a mapping, misses a field, has an unknown
            field, or a field is malformed; every problem is listed.
    """
    if not isinstance(data, Mapping):
        raise InvalidSignup([Problem("", 'expected an object with "email" and "name"')])
    problems = [Problem(name, "is required") for name in SIGNUP_FIELDS if name not in data]
    problems += [
        Problem(str(key), "is not a known field") for key in data if key not in SIGNUP_FIELDS
    ]
    email = name = None
    if "email" in data:
        try:
            email = normalize_email(data["email"]).lower()
        except ValueError as error:
            problems.append(Problem("email", str(error)))
    if "name" in data:
        try:
            name = clean_display_name(data["name"], max_length=MAX_NAME_LENGTH)
        except ValueError as error:
            problems.append(Problem("name", str(error)))
    if problems or email is None or name is None:
        raise InvalidSignup(problems)
    return SignupRequest(email=email, name=name)


def create_user(
    session_factory: SessionFactory,
    data: object,
    *,
    in_transaction: Callable[[Session, int], None] | None = None,
) -> UserRecord:
    """Validate signup input and store the new user.

    Args:
        in_transaction: Called with the session and the new user's id inside the
            transaction that stores the user, before it commits (to enqueue the user's
            jobs into the outbox with it); what it raises rolls the user back.

    Raises:
        InvalidSignup: The input is malformed.
        DuplicateEmail: A user with this address exists (also when two signups race).
    """
    signup = validate_signup(data)
    row = User(email=signup.email, name=signup.name, created_at=utcnow())
    try:
        with write_session(session_factory) as session:
            if session.scalar(select(func.count()).where(User.email == signup.email)):
                raise DuplicateEmail(signup.email)
            session.add(row)
            if in_transaction is not None:
                session.flush()
                in_transaction(session, row.id)
    except IntegrityError:
        # Another signup with the same address committed between our check and insert.
        if _email_taken(session_factory, signup.email):
            raise DuplicateEmail(signup.email) from None
        raise
    return _user_record(row)


def load_user(session_factory: SessionFactory, user_id: object) -> UserRecord:
    """Read one user; `user_id` may be untrusted (a malformed id is not found).

    Raises:
        UserNotFound: No user has this id.
    """
    key = _checked_id(user_id)
    with read_session(session_factory) as session:
        row = session.get(User, key)
        if row is None:
            raise UserNotFound(key)
        return _user_record(row)


def find_user_by_email(session_factory: SessionFactory, email: str) -> UserRecord | None:
    """The user with this address (compared lower-cased), if any."""
    with read_session(session_factory) as session:
        row = session.scalar(select(User).where(User.email == email.strip().lower()))
        return None if row is None else _user_record(row)


def delete_user(session_factory: SessionFactory, user_id: object) -> None:
    """Delete a user and, through the foreign key's cascade, their preferences.

    Used to undo a signup whose follow-up work could not be scheduled, so the person
    can sign up again with the same address.

    Raises:
        UserNotFound: No user has this id.
    """
    key = _checked_id(user_id)
    with write_session(session_factory) as session:
        row = session.get(User, key)
        if row is None:
            raise UserNotFound(key)
        session.delete(row)


def setup_default_preferences(
    session_factory: SessionFactory, user_id: object
) -> PreferencesRecord:
    """Give a user the default preferences unless they already have preferences.

    Idempotent: running it again, or concurrently, keeps the existing row unchanged.

    Raises:
        UserNotFound: No user has this id.
    """
    key = _checked_id(user_id)
    with write_session(session_factory) as session:
        if session.get(User, key) is None:
            raise UserNotFound(key)
        insert_unless_present(
            session,
            table_of(Preference),
            {"user_id": key, "created_at": utcnow(), **DEFAULT_PREFERENCES},
            conflict_columns=["user_id"],
        )
        row = session.get(Preference, key, populate_existing=True)
        if row is None:  # pragma: no cover - the insert above guarantees a row
            raise RuntimeError(f"preferences of user {key} vanished")
        return _preferences_record(row)


def load_preferences(session_factory: SessionFactory, user_id: object) -> PreferencesRecord | None:
    """A user's preferences, or None before they were set up."""
    key = _checked_id(user_id)
    with read_session(session_factory) as session:
        row = session.get(Preference, key)
        return None if row is None else _preferences_record(row)


def _email_taken(session_factory: SessionFactory, email: str) -> bool:
    with read_session(session_factory) as session:
        return bool(session.scalar(select(func.count()).where(User.email == email)))


def _checked_id(user_id: object) -> int:
    key: int | None = None
    # bool is an int subclass, but True is no user id.
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        key = user_id
    elif isinstance(user_id, str) and user_id.isascii() and user_id.isdigit() and len(user_id) < 19:
        key = int(user_id)
    if key is None or not 0 < key < 2**63:
        raise UserNotFound(user_id)
    return key


def _user_record(row: User) -> UserRecord:
    return UserRecord(id=row.id, email=row.email, name=row.name, created_at=row.created_at)


def _preferences_record(row: Preference) -> PreferencesRecord:
    return PreferencesRecord(
        user_id=row.user_id,
        report_emails=row.report_emails,
        weekly_digest=row.weekly_digest,
        timezone=row.timezone,
    )
