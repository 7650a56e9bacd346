"""Held rows: what a filer typed into the grid that could not be saved yet, kept with its errors."""
from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import bindparam, delete, select

from reporting import clock
from reporting.extensions import db
from reporting.models import HeldEdit, Period, Region, User
from reporting.regions.hierarchy import descendants_at
from reporting.sql import among

#: the error that makes a correction wait for its 修改原因 (filing.save_report says it)
REASON_FIELD = "reason"


def hold(period: Period, unit: Region, typed: dict[str, str], errors: Iterable, user: Optional[User]) -> HeldEdit:
    """Keep the row's cells as typed, with why they were not saved, in the caller's transaction:
    one row per unit and period, the latest typing replacing the one before."""
    held = db.session.scalar(select(HeldEdit).where(HeldEdit.period_id == period.id,
                                                    HeldEdit.region_id == unit.id))
    if held is None:
        held = HeldEdit(period_id=period.id, region_id=unit.id)
        db.session.add(held)
    held.typed = {key: str(value) for key, value in typed.items()}
    held.errors = [[e.field, e.message] for e in errors]
    held.user_id, held.at = (user.id if user else None), clock.now()
    return held


def release(period: Period, unit: Region) -> int:
    """The row was saved or discarded (放弃修改): nothing is held for it any more."""
    # on the table, not the model: every row save runs this, and the ORM's bulk delete around it
    # cost more than the DELETE (a held row read in this request is not used after it goes); a row
    # held earlier in the transaction is flushed first, as the ORM statement did
    db.session.flush()
    return db.session.execute(_RELEASE, {"period_id": period.id, "region_id": unit.id}).rowcount


_HELD = HeldEdit.__table__
_RELEASE = delete(_HELD).where(_HELD.c.period_id == bindparam("period_id"), _HELD.c.region_id == bindparam("region_id"))


def held_for(period: Period, unit_ids: Iterable[int]) -> dict[int, HeldEdit]:
    """unit id -> what is held for it, among `unit_ids` (a list or a select of ids)."""
    listed = isinstance(unit_ids, (list, tuple, set))
    return {h.region_id: h for h in db.session.scalars(
        select(HeldEdit).where(HeldEdit.period_id == period.id,
                               among(HeldEdit.region_id, unit_ids) if listed else HeldEdit.region_id.in_(unit_ids)))}


def held_under(period: Period, region: Region) -> list[tuple[str, str, HeldEdit]]:
    """(unit code, unit name, held row) for every held row of the report-level units under `region`,
    in code order: the list the grid and the submit summary show until each is fixed or discarded."""
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    return [tuple(row) for row in db.session.execute(
        select(Region.code, Region.name, HeldEdit).join(HeldEdit, HeldEdit.region_id == Region.id)
        .where(HeldEdit.period_id == period.id, Region.id.in_(units)).order_by(Region.code))]


