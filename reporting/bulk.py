"""Writing many rows at once: COPY on PostgreSQL, the driver's executemany elsewhere (SQLite)."""
from __future__ import annotations

import functools
import gc
import itertools
import json
import threading
from contextlib import contextmanager
from typing import Callable, Iterable, Optional, Sequence

from sqlalchemy import JSON, Date, DateTime, Table
from sqlalchemy.exc import IntegrityError

from reporting.extensions import db

BATCH = 5000


@contextmanager
def collector_paused():
    """Pause Python's cycle collector while a bulk load holds its rows in memory.

    Each full pass walks every object alive, and a province's import keeps over a million of them:
    the passes cost a fifth of the import's time. A load makes little cyclic garbage; what it
    leaves is collected when the collector resumes (if it ran before), at the end of the load.
    """
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def insert_rows(table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, in the session's transaction."""
    if rows:
        columns = list(rows[0])
        insert_values(table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_values(table: Table, columns: Sequence[str], rows: Iterable[tuple],
                  meanwhile: Optional[Callable[[], None]] = None) -> int:
    """Insert `rows`, tuples of values in the order of `columns`, in the session's transaction;
    how many were inserted.

    The rows go to the driver as they are: in a bulk load, SQLAlchemy's processing of every
    parameter of every row costs more than the database's own work. Only the values of the columns
    whose type converts them (JSON; dates on SQLite) are converted, the way SQLAlchemy would.
    `rows` may be a generator: PostgreSQL then stores the first rows while the caller makes the
    next. `meanwhile`, the caller's own work that needs neither the session nor the database, runs
    while PostgreSQL checks the rows at the COPY's end (their foreign keys), in a thread of its own;
    elsewhere after the insert. A duplicate key raises SQLAlchemy's IntegrityError on both databases.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        if meanwhile is not None:
            meanwhile()
        return 0
    rows = itertools.chain([first], rows)
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, columns, rows, meanwhile)
    quote = connection.dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                 f"VALUES ({', '.join(_marks(connection, len(columns)))})")
    convert = _converter(connection, table, columns)
    count = 0
    while batch := list(itertools.islice(rows, BATCH)):
        connection.exec_driver_sql(statement, convert(batch))
        count += len(batch)
    if meanwhile is not None:
        meanwhile()
    return count


def checks_beside() -> bool:
    """Whether `insert_values` runs its `meanwhile` while the database checks the rows (PostgreSQL)
    rather than after them: only then does a load gain by being written in parts."""
    return db.session.get_bind().dialect.name == "postgresql"


def update_values(table: Table, columns: Sequence[str], keys: Sequence[str], rows: Sequence[tuple], *,
                  bump: Optional[str] = None) -> int:
    """UPDATE `table` once per row: the row holds the new values of `columns`, then the values of
    `keys` that pick the row (e.g. id and the revision it was read at). `bump` names a counter
    column to raise by one. Returns how many rows matched in all: fewer than `rows` means some
    row has changed since it was read."""
    if not rows:
        return 0
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    marks = _marks(connection, len(columns) + len(keys))
    sets = [f"{quote(c)} = {m}" for c, m in zip(columns, marks)]
    if bump:
        sets.append(f"{quote(bump)} = {quote(bump)} + 1")
    where = " AND ".join(f"{quote(k)} = {m}" for k, m in zip(keys, marks[len(columns):]))
    statement = f"UPDATE {quote(table.name)} SET {', '.join(sets)} WHERE {where}"
    convert = _converter(connection, table, list(columns) + list(keys))
    matched = 0
    for start in range(0, len(rows), BATCH):
        matched += connection.exec_driver_sql(statement, convert(rows[start:start + BATCH])).rowcount
    return matched


def _marks(connection, count: int) -> list[str]:
    return ["?" if connection.dialect.paramstyle == "qmark" else "%s"] * count


def _converter(connection, table: Table, columns: Sequence[str]):
    """Rows as the driver takes them: each value through its column type's bind processor, where
    the type has one. A timestamp repeats across a bulk load, so its text is made once."""
    dialect = connection.dialect
    steps = []
    for at, name in enumerate(columns):
        kind = table.c[name].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            steps.append((at, functools.lru_cache(maxsize=64)(process) if isinstance(kind, (Date, DateTime))
                          else process))
    if not steps:
        return list

    def convert(rows):
        out = []
        for row in rows:
            row = list(row)
            for at, process in steps:
                row[at] = process(row[at])
            out.append(tuple(row))
        return out
    return convert


def _copy(connection, table: Table, columns: Sequence[str], rows: Iterable[tuple],
          meanwhile: Optional[Callable[[], None]] = None) -> int:
    # COPY streams the rows in one statement; it is several times faster than INSERT batches.
    import psycopg
    quote = connection.dialect.identifier_preparer.quote
    json_at = [at for at, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    cursor = connection.connection.driver_connection.cursor()
    count, helper = 0, None
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for at in json_at:
                        if row[at] is not None:
                            row[at] = json.dumps(row[at], ensure_ascii=False)
                copy.write_row(row)
                count += 1
            if meanwhile is not None:  # started now, to run while this thread waits for the server
                helper = _Helper(meanwhile)
                helper.start()
    except psycopg.errors.IntegrityError as error:
        # the same exception an INSERT would raise, so that callers handle one kind
        raise IntegrityError(statement, None, error) from None
    finally:
        cursor.close()
        if helper is not None:
            helper.join()
    if helper is not None:
        helper.result()
    return count


class _Helper(threading.Thread):
    """A thread for work that needs no database, whose exception the caller gets back."""

    def __init__(self, work: Callable[[], None]):
        super().__init__(name="bulk-helper", daemon=True)
        self.work, self.error = work, None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # handed to the caller's thread by result()
            self.error = error

    def result(self) -> None:
        if self.error is not None:
            raise self.error
