"""Database URL checks and the mapping of plain PostgreSQL URLs to psycopg 3."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# Plain `postgresql://` would make SQLAlchemy look for psycopg2; the stack ships psycopg 3.
_POSTGRES_ALIASES = {"postgres", "postgresql"}
_SUPPORTED_BACKENDS = {"sqlite", "postgresql"}


def normalize_database_url(url: str) -> URL:
    """Parse a database URL and pick the driver the shop ships with.

    `postgresql://` and `postgres://` become `postgresql+psycopg://`; an explicit
    driver is kept. SQLite and PostgreSQL are the supported backends.

    Raises:
        ValueError: The URL cannot be parsed, names another backend, or lacks a
            database name.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("must be a URL such as sqlite:///var/shop.db or postgresql://host/db")
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ValueError(f"{url!r} is not a database URL") from None
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED_BACKENDS:
        raise ValueError(
            f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)!r}"
            " (expected sqlite or postgresql)"
        )
    if backend == "postgresql" and not parsed.database:
        raise ValueError(f"{parsed.render_as_string(hide_password=True)!r} names no database")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError(
            "in-memory SQLite cannot be shared by the web and worker processes; "
            "give a file, e.g. sqlite:///var/shop.db"
        )
    return parsed


def is_sqlite(url: URL) -> bool:
    """Whether the URL points at SQLite."""
    return url.get_backend_name() == "sqlite"
