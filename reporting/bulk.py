"""Writing many rows at once: COPY on PostgreSQL, batched executemany elsewhere (SQLite)."""
from __future__ import annotations

import json

from sqlalchemy import JSON, Table
from sqlalchemy.exc import IntegrityError

from .extensions import db

BATCH = 5000


def insert_rows(table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, in the session's transaction."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
        return
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), rows[start:start + BATCH])


def _copy(connection, table: Table, rows: list[dict]) -> None:
    # COPY streams the rows in one statement; it is several times faster than INSERT batches.
    columns = list(rows[0])
    json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    import psycopg
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c], ensure_ascii=False) if c in json_columns and row[c] is not None
                                else row[c] for c in columns])
    except psycopg.errors.IntegrityError as error:
        # the same exception an INSERT would raise, so that callers handle one kind
        raise IntegrityError(statement, None, error) from None
    finally:
        cursor.close()
