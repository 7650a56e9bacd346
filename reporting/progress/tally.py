"""小计 rows (models.Tally) kept in step with the submitted reports they sum.

Every write that submits a report or corrects a submitted one adds its difference to the row of
the report unit's parent for that period, in the same transaction, through an upsert that adds
to what is stored (`reports = reports + 1, s3 = s3 + 120`). Additions commute, so two writers
in one township never need to read each other's totals, and the row lock the upsert takes is
held only until commit. Rows are touched in key order, so two imports cannot deadlock on them.

A tally also carries the one basis (DESIGN.md's 口径): `b1..b12` add each submission's change
over the unit's previous submitted report, and `first_reports` counts first submissions, so the
basis of a period is their sum over the periods up to it. A submission made before a later one
of the same unit (a 补报 of a missed period) moves that later submission's change, in the same
upsert: a write touches at most two periods' rows of one parent.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key

from reporting import versions
from reporting.extensions import db
from reporting.models import LEVELS, VALUE_SLOTS, Campaign, Indicator, Period, Region, Report, Tally, child_level
from reporting.sql import among

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
    first_reports: int = 0
    basis: list[int] = field(default_factory=lambda: [0] * VALUE_SLOTS)


class Changes:
    """What one transaction's writes add to the tallies, gathered before they are applied at once."""

    def __init__(self, period: Period, indicators: list[Indicator]):
        self.period = period
        self.slots = {i.key: i.slot for i in indicators}
        self._places = [(i.key, i.slot - 1) for i in indicators]
        self.by_parent: dict[tuple[int, int], Difference] = {}

    def _at(self, period_id: int, parent_id: int) -> Difference:
        return self.by_parent.setdefault((period_id, parent_id), Difference())

    def _add(self, target: list[int], values: dict[str, Optional[int]], sign: int) -> None:
        get = values.get  # once per row of a 60,000-row import: kept to the plainest loop
        for key, place in self._places:
            value = get(key)
            if value:
                target[place] += sign * value

    def submitted(self, parent_id: Optional[int], values: dict[str, Optional[int]], late: bool,
                  prior: Optional[dict[str, Optional[int]]] = None, later: Optional[int] = None) -> None:
        """A report became submitted with `values` (on its first submission, at `late` or not).

        `prior` is the unit's latest submitted report of an earlier period (None: its first one),
        `later` the id of the next period the unit has already submitted, if any."""
        if parent_id is None:
            return
        here = self._at(self.period.id, parent_id)
        here.reports += 1
        here.late += int(late)
        if prior is None:
            here.first_reports += 1
        # the sums gain the values; the basis their change over `prior` (one loop: a province's
        # import comes here 60,000 times)
        sums, basis, get, before = here.sums, here.basis, values.get, (prior or {}).get
        for key, place in self._places:
            value = get(key) or 0
            sums[place] += value
            basis[place] += value - (before(key) or 0)
        if later is not None:
            self._move(self._at(later, parent_id), values, prior, -1)

    def _move(self, difference: Difference, values, prior, sign: int) -> None:
        self._add(difference.basis, values, sign)
        if prior is None:
            difference.first_reports += sign
        else:
            self._add(difference.basis, prior, -sign)

    def corrected(self, parent_id: Optional[int], before: dict[str, Optional[int]],
                  after: dict[str, Optional[int]], later: Optional[int] = None) -> None:
        """A submitted report's values changed from `before` to `after`."""
        if parent_id is None:
            return
        here = self._at(self.period.id, parent_id)
        for target in (here.sums, here.basis):
            self._add(target, before, -1)
            self._add(target, after, +1)
        if later is not None:
            there = self._at(later, parent_id)
            self._add(there.basis, before, +1)
            self._add(there.basis, after, -1)

    def apply(self) -> None:
        keys = sorted(self.by_parent)
        if not keys:
            return
        parents = {parent_id for _, parent_id in keys}
        ancestry = _ancestry(parents)
        rows = [{"period_id": period_id, "region_id": parent_id,
                 **{column.key: getattr(ancestry[parent_id], column.key) for column in ANCESTOR_COLUMNS},
                 "reports": d.reports, "late": d.late, **{f"s{slot}": d.sums[slot - 1] for slot in SLOTS},
                 "first_reports": d.first_reports, **{f"b{slot}": d.basis[slot - 1] for slot in SLOTS}}
                for period_id, parent_id in keys for d in (self.by_parent[(period_id, parent_id)],)]
        connection = db.session.connection()
        sql, order = _adding_sql(connection.dialect)
        # straight to the driver: a province's import adds to some 6,000 tallies of 28 sums each,
        # and SQLAlchemy's handling of every one of those parameters cost more than the upsert
        connection.exec_driver_sql(sql, [tuple(row[key] for key in order) for row in rows] if order else rows)
        # the cached progress answers of these branches are stale from this commit on
        campaign = self.period.campaign
        level = child_level(campaign.root.level)
        versions.bump(campaign, {getattr(ancestry[p], f"{level}_id", None) for p in parents} - {None} if level else ())
        self.by_parent.clear()


@functools.cache
def _adding(dialect_name: str):
    """INSERT a tally, or add to the one there: built once (SQLAlchemy then reuses its compiled form
    without deriving its cache key again, which for 28 sums cost more than the write itself)."""
    statement = {"postgresql": postgresql, "sqlite": sqlite}[dialect_name].insert(Tally)
    return statement.on_conflict_do_update(
        index_elements=["period_id", "region_id"],
        set_={name: getattr(Tally, name) + getattr(statement.excluded, name) for name in ADDED})


@functools.cache
def _adding_sql(dialect) -> tuple[str, Optional[tuple[str, ...]]]:
    """`_adding` as the driver takes it: its SQL, and for a positional parameter style the rows'
    keys in order (None: the driver takes each row's dict as it is)."""
    compiled = _adding(dialect.name).compile(dialect=dialect, column_keys=WRITTEN)
    return compiled.string, (tuple(compiled.positiontup) if compiled.positional else None)


def _ancestry(region_ids: set[int]) -> dict[int, object]:
    """The ancestor ids of these units: from the session where it holds them (a row save has read
    its unit's township), else in one query."""
    found = {}
    for region_id in region_ids:
        held = db.session.identity_map.get(identity_key(Region, region_id))
        if held is not None:
            found[region_id] = held
    missing = region_ids - found.keys()
    if missing:
        found.update((row.id, row) for row in db.session.execute(
            select(Region.id, *ANCESTOR_COLUMNS).where(Region.id.in_(missing))))
    return found


#: the columns a write adds to
ADDED = ["reports", "late", *(f"s{slot}" for slot in SLOTS), "first_reports", *(f"b{slot}" for slot in SLOTS)]
#: every column a write gives (apply's rows)
WRITTEN = ["period_id", "region_id", *(column.key for column in ANCESTOR_COLUMNS), *ADDED]


def neighbours(period: Period, region_ids: list[int], indicators: list[Indicator],
               known_prior: Optional[dict[int, dict]] = None) -> tuple[dict[int, dict], dict[int, int]]:
    """For units about to submit `period`: their latest submitted values of an earlier period, and
    the id of their next later period already submitted. `known_prior` (the period before, when
    the caller has read it) spares the walk back for the units it holds."""
    asked = set(region_ids)
    prior = {rid: values for rid, values in (known_prior or {}).items() if rid in asked}
    prior.update(priors(period, [rid for rid in region_ids if rid not in prior], indicators))
    return prior, laters(period, region_ids)


def priors(period: Period, region_ids: list[int], indicators: list[Indicator]) -> dict[int, dict]:
    """region id -> the unit's values in its latest submitted report of a period before `period`."""
    seq_of = {p.id: p.seq for p in period.campaign.periods}
    earlier = [p.id for p in period.campaign.periods if p.seq < period.seq]
    found: dict[int, dict] = {}
    if earlier and region_ids:
        best: dict[int, int] = {}
        columns = [getattr(Report, f"v{i.slot}") for i in indicators]
        for row in _submitted_of(region_ids, earlier, columns):
            if seq_of[row[1]] > best.get(row[0], 0):
                best[row[0]] = seq_of[row[1]]
                found[row[0]] = {i.key: row[2 + n] for n, i in enumerate(indicators)}
    return found


def laters(period: Period, region_ids: list[int]) -> dict[int, int]:
    """region id -> the id of the unit's first period after `period` that it has submitted."""
    seq_of = {p.id: p.seq for p in period.campaign.periods}
    later_ids = [p.id for p in period.campaign.periods if p.seq > period.seq]
    later: dict[int, int] = {}
    if later_ids and region_ids:
        for rid, pid in _submitted_of(region_ids, later_ids, []):
            if rid not in later or seq_of[pid] < seq_of[later[rid]]:
                later[rid] = pid
    return later


#: above this many units, read the periods' submitted reports whole and keep those of the units:
#: cheaper than sending the ids (a province's import), and nothing at all when the periods are empty
FEW_UNITS = 2000


def _submitted_of(region_ids: list[int], period_ids: list[int], columns: list):
    """(region id, period id, *columns) of the submitted reports of these units in these periods."""
    query = select(Report.region_id, Report.period_id, *columns).where(
        Report.period_id.in_(period_ids), Report.status == "submitted")
    if len(region_ids) > FEW_UNITS:
        wanted = set(region_ids)
        return [row for row in db.session.execute(query) if row[0] in wanted]
    return db.session.execute(query.where(among(Report.region_id, region_ids))).all()


def recount(period: Period) -> list[dict]:
    """The tallies of `period` as they should be, summed from its submitted reports (a check)."""
    unit = Region.__table__.alias("unit")
    values = [getattr(Report, f"v{slot}") for slot in SLOTS]
    window = dict(partition_by=Report.region_id, order_by=Period.seq)
    # each submitted report of the campaign up to `period`, beside the unit's one before it
    reports = (select(Report.region_id, Report.period_id, Report.submitted_at,
                      func.lag(Period.seq).over(**window).label("prior_seq"),
                      *(value.label(f"v{slot}") for slot, value in zip(SLOTS, values)),
                      *(func.lag(value).over(**window).label(f"p{slot}") for slot, value in zip(SLOTS, values)))
               .join(Period, Period.id == Report.period_id)
               .where(Period.campaign_id == period.campaign_id, Period.seq <= period.seq,
                      Report.status == "submitted")).subquery()
    ancestors = [getattr(Region, column.key) for column in ANCESTOR_COLUMNS]
    query = (select(Region.id.label("region_id"), *ancestors, func.count().label("reports"),
                    func.count(case((reports.c.submitted_at >= period.deadline, 1))).label("late"),
                    *(func.coalesce(func.sum(reports.c[f"v{slot}"]), 0).label(f"s{slot}") for slot in SLOTS),
                    func.count(case((reports.c.prior_seq.is_(None), 1))).label("first_reports"),
                    *(func.coalesce(func.sum(func.coalesce(reports.c[f"v{slot}"], 0)
                                             - func.coalesce(reports.c[f"p{slot}"], 0)), 0).label(f"b{slot}")
                      for slot in SLOTS))
             .select_from(reports).join(unit, unit.c.id == reports.c.region_id)
             .join(Region, Region.id == unit.c.parent_id)
             .where(reports.c.period_id == period.id)
             .group_by(Region.id, *ancestors).order_by(Region.id))
    return [dict(row) for row in db.session.execute(query).mappings()]


def stored(period: Period) -> list[dict]:
    """The tallies of `period` as stored, without the rows that hold nothing."""
    columns = [Tally.region_id, *(getattr(Tally, column.key) for column in ANCESTOR_COLUMNS), Tally.reports,
               Tally.late, *(getattr(Tally, f"s{slot}") for slot in SLOTS), Tally.first_reports,
               *(getattr(Tally, f"b{slot}") for slot in SLOTS)]
    query = (select(*columns).where(Tally.period_id == period.id, Tally.reports > 0)
             .order_by(Tally.region_id))
    return [dict(row) for row in db.session.execute(query).mappings()]


def rebuild(period: Period) -> int:
    """Replace the tallies of `period` with a recount; returns how many rows it wrote."""
    db.session.execute(Tally.__table__.delete().where(Tally.period_id == period.id))
    rows = [{**row, "period_id": period.id} for row in recount(period)]
    if rows:
        db.session.execute(Tally.__table__.insert(), rows)
    versions.bump_all(period.campaign)
    return len(rows)

