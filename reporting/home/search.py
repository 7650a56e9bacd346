"""Finding a unit by name or code inside a user's region subtree."""
from __future__ import annotations

from sqlalchemy import case, or_, select

from reporting.extensions import db
from reporting.models import LEVELS, Region

#: the most units one search lists
LIMIT = 20


def find_units(scope: Region, text: str, limit: int = LIMIT) -> list[Region]:
    """Units under `scope` (itself included) whose code starts with `text` or whose name holds it,
    upper levels first, then by code. Digits search codes; anything else searches names."""
    # a NUL names no unit, and PostgreSQL refuses it in a string parameter
    text = " ".join(text.replace("\x00", " ").split())[:50]
    if not text:
        return []
    query = select(Region)
    if scope.level == "village":
        query = query.where(Region.id == scope.id)
    else:
        query = query.where(or_(Region.id == scope.id, getattr(Region, f"{scope.level}_id") == scope.id))
    if text.isascii() and text.isdigit():
        query = query.where(Region.code.startswith(text, autoescape=True))
    else:
        query = query.where(Region.name.contains(text, autoescape=True))
    depth = case({level: n for n, level in enumerate(LEVELS)}, value=Region.level)
    return list(db.session.scalars(query.order_by(depth, Region.code).limit(limit)))


def parents_of(units: list[Region]) -> dict[int, Region]:
    """The parent of each unit found, in one query, to tell apart units of the same name."""
    ids = {u.parent_id for u in units if u.parent_id is not None}
    if not ids:
        return {}
    return {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(ids)))}
