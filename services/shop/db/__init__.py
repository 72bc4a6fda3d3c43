"""Database access for the shop: engines, sessions and migrations."""

from shop.db.engine import (
    SessionFactory,
    create_engine_for,
    make_session_factory,
    read_session,
    session_factory_for,
    write_session,
)
from shop.db.migrate import current_revision, head_revision, migrate

__all__ = [
    "SessionFactory",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "make_session_factory",
    "migrate",
    "read_session",
    "session_factory_for",
    "write_session",
]
