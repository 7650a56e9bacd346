"""Who reads an issued 通报: every unit under its region (it is addressed to them), with read marks."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import defer

from reporting import access, clock
from reporting.extensions import db
from reporting.models import Circular, CircularRead, Region, User

#: what a list of 通报 shows of each: not its body nor its frozen numbers (a province's: 15 KB of JSON)
AS_LISTED = (defer(Circular.body), defer(Circular.snapshot))


def addressed(user: User, region: Optional[Region] = None, limit: int = 200) -> list[Circular]:
    """The issued 通报 that concern `region` (default: the user's own) and that the user may read:
    those of the region and its ancestors (addressed to it), and those under it in the user's subtree."""
    region = region or user.region
    ids = [r.id for r in region.ancestors()] + [region.id]
    concern = Circular.region_id.in_(ids)
    if access.can_view(user, region) and region.level != "village":
        concern = or_(concern, getattr(Region, f"{region.level}_id") == region.id)
    circulars = db.session.scalars(
        select(Circular).options(*AS_LISTED).join(Region, Region.id == Circular.region_id)
        .where(Circular.status == "issued", concern)
        .order_by(Circular.issued_at.desc(), Circular.id.desc()).limit(limit)).all()
    return [c for c in circulars if access.can_read_circular(user, c)]


def read_ids(user: User, circulars: list[Circular]) -> set[int]:
    if not circulars:
        return set()
    return set(db.session.scalars(select(CircularRead.circular_id).where(
        CircularRead.user_id == user.id, CircularRead.circular_id.in_([c.id for c in circulars]))))


def unread(user: User, limit: int = 20) -> list[Circular]:
    """Issued 通报 addressed to the user's unit from above that the user has not opened yet."""
    above = [c for c in addressed(user) if c.region_id != user.region_id and not access.can_view(user, c.region)]
    seen = read_ids(user, above)
    return [c for c in above if c.id not in seen][:limit]


def mark_read(circular: Circular, user: User) -> None:
    """Note that the user opened it (once; a second opening changes nothing)."""
    if circular.status != "issued":
        return
    exists = db.session.get(CircularRead, (circular.id, user.id))
    if exists is None:
        db.session.add(CircularRead(circular_id=circular.id, user_id=user.id, at=clock.now()))


def standing(circular: Circular, region: Region) -> Optional[dict]:
    """The row of the 通报's ranking that stands for `region` (itself, or its ancestor among the
    ranked units): its rank, light, 约谈 and lateness as printed. None for the issuing region itself."""
    rows = (circular.snapshot or {}).get("children") or []
    if not rows:
        return None
    codes = {r.code for r in region.ancestors()} | {region.code}
    for row in rows:
        if row.get("code") in codes:
            return row
    return None
