"""INSERT ... ON CONFLICT DO NOTHING for both supported backends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_unless_present(
    session: Session, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """Insert a row unless one with the same `conflict_columns` exists.

    Unlike catching IntegrityError, this leaves the transaction usable on PostgreSQL.

    Returns:
        Whether a row was inserted.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
    )
    result = session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
