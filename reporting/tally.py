"""小计 rows (models.Tally) kept in step with the submitted reports they sum.

Every write that submits a report or corrects a submitted one adds its difference to the row of
the report unit's parent for that period, in the same transaction, through an upsert that adds
to what is stored (`reports = reports + 1, s3 = s3 + 120`). Additions commute, so two writers
in one township never need to read each other's totals, and the row lock the upsert takes is
held only until commit. Rows are touched in key order, so two imports cannot deadlock on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from . import cache
from .extensions import db
from .hierarchy import child_level
from .models import LEVELS, VALUE_SLOTS, Campaign, Indicator, Period, Region, Report, Tally

SLOTS = range(1, VALUE_SLOTS + 1)
#: the ancestor ids a tally copies from its unit's Region
ANCESTOR_COLUMNS = (Region.province_id, Region.city_id, Region.county_id, Region.township_id)


def tally_level(campaign: Campaign) -> Optional[str]:
    """The level whose units hold the tallies: the parents of the report units (None at the top)."""
    depth = LEVELS.index(campaign.report_level)
    return LEVELS[depth - 1] if depth else None


@dataclass
class Difference:
    reports: int = 0
    late: int = 0
    sums: list[int] = field(default_factory=lambda: [0] * VALUE_SLOTS)


class Changes:
    """What one transaction's writes add to the tallies, gathered before they are applied at once."""

    def __init__(self, period: Period, indicators: list[Indicator]):
        self.period = period
        self.slots = {i.key: i.slot for i in indicators}
        self.by_parent: dict[int, Difference] = {}

    def _add(self, parent_id: Optional[int], values: dict[str, Optional[int]], sign: int) -> Difference:
        difference = self.by_parent.setdefault(parent_id, Difference())
        for key, slot in self.slots.items():
            difference.sums[slot - 1] += sign * (values.get(key) or 0)
        return difference

    def submitted(self, parent_id: Optional[int], values: dict[str, Optional[int]], late: bool) -> None:
        """A report became submitted with `values` (on its first submission, at `late` or not)."""
        difference = self._add(parent_id, values, +1)
        difference.reports += 1
        difference.late += int(late)

    def corrected(self, parent_id: Optional[int], before: dict[str, Optional[int]],
                  after: dict[str, Optional[int]]) -> None:
        """A submitted report's values changed from `before` to `after`."""
        self._add(parent_id, before, -1)
        self._add(parent_id, after, +1)

    def apply(self) -> None:
        parents = sorted(parent_id for parent_id in self.by_parent if parent_id is not None)
        if not parents:
            return
        ancestry = {row.id: row for row in db.session.execute(
            select(Region.id, *ANCESTOR_COLUMNS).where(Region.id.in_(parents)))}
        rows = [{"period_id": self.period.id, "region_id": parent_id,
                 **{column.key: getattr(ancestry[parent_id], column.key) for column in ANCESTOR_COLUMNS},
                 "reports": d.reports, "late": d.late, **{f"s{slot}": d.sums[slot - 1] for slot in SLOTS}}
                for parent_id in parents for d in (self.by_parent[parent_id],)]
        dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
        statement = dialect.insert(Tally)
        added = ["reports", "late", *(f"s{slot}" for slot in SLOTS)]
        statement = statement.on_conflict_do_update(
            index_elements=["period_id", "region_id"],
            set_={name: getattr(Tally, name) + getattr(statement.excluded, name) for name in added})
        db.session.execute(statement, rows)
        # the cached progress answers of these branches are stale from this commit on
        campaign = self.period.campaign
        level = child_level(campaign.root.level)
        cache.bump(campaign, {getattr(ancestry[p], f"{level}_id", None) for p in parents} - {None} if level else ())
        self.by_parent.clear()


def recount(period: Period) -> list[dict]:
    """The tallies of `period` as they should be, summed from its submitted reports (a check)."""
    unit = Region.__table__.alias("unit")
    ancestors = [getattr(Region, column.key) for column in ANCESTOR_COLUMNS]
    query = (select(Region.id.label("region_id"), *ancestors, func.count(Report.id).label("reports"),
                    func.count(case((Report.submitted_at >= period.deadline, 1))).label("late"),
                    *(func.coalesce(func.sum(getattr(Report, f"v{slot}")), 0).label(f"s{slot}")
                      for slot in SLOTS))
             .select_from(Report).join(unit, unit.c.id == Report.region_id)
             .join(Region, Region.id == unit.c.parent_id)
             .where(Report.period_id == period.id, Report.status == "submitted")
             .group_by(Region.id, *ancestors).order_by(Region.id))
    return [dict(row) for row in db.session.execute(query).mappings()]


def stored(period: Period) -> list[dict]:
    """The tallies of `period` as stored, without the rows that hold nothing."""
    columns = [Tally.region_id, *(getattr(Tally, column.key) for column in ANCESTOR_COLUMNS), Tally.reports,
               Tally.late, *(getattr(Tally, f"s{slot}") for slot in SLOTS)]
    query = (select(*columns).where(Tally.period_id == period.id, Tally.reports > 0)
             .order_by(Tally.region_id))
    return [dict(row) for row in db.session.execute(query).mappings()]


def rebuild(period: Period) -> int:
    """Replace the tallies of `period` with a recount; returns how many rows it wrote."""
    db.session.execute(Tally.__table__.delete().where(Tally.period_id == period.id))
    rows = [{**row, "period_id": period.id} for row in recount(period)]
    if rows:
        db.session.execute(Tally.__table__.insert(), rows)
    cache.bump_all(period.campaign)
    return len(rows)

