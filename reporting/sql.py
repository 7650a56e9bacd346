"""SQL spelt once for both databases where the plain spelling costs too much on one of them."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from reporting.extensions import db


def among(column, values: Iterable):
    """`column IN values` for a list of values. On PostgreSQL one array parameter (`= ANY(...)`):
    a county's 400 ids spelt as 400 placeholders made a statement text that psycopg parsed again on
    every call (9 ms for the grid's carried values) and that differed with every list length. SQLite
    has no arrays: IN there."""
    values = list(values)
    if db.engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
