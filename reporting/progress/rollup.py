"""Live roll-up: every level's totals as one GROUP BY, over the tallies (小计) of the report units'
parents where a level sums whole parents, else over the report-level units themselves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import BigInteger, and_, case, cast, func, select

from reporting.extensions import db
from reporting.indicators import HARDSHIP_ENROLLED, HARDSHIP_SHOULD, RATE_DENOMINATOR, RATE_NUMERATOR
from reporting.models import Indicator, Period, Region, Report, Tally, child_level
from reporting.progress.tally import tally_level

SUBMITTED = ("submitted",)
FILED = ("submitted", "draft")


@dataclass
class Totals:
    """The sums of one unit's report-level units for one period."""
    values: dict[str, int]
    #: how many report-level units contributed a report
    reports: int = 0
    #: how many of those reports came after the due date (迟报)
    late: int = 0
    #: on the one basis: report-level units with a submitted report of this period or an earlier one
    filed: int = 0
    #: on the one basis: the period whose figures a unit carries forward (its most recent one)
    carried_from: Optional[Period] = None

    @property
    def carried(self) -> int:
        """Report-level units counted with an earlier period's figures (沿用)."""
        return max(self.filed - self.reports, 0)

    def get(self, key: str) -> Optional[int]:
        return self.values.get(key)

    @property
    def rate(self) -> Optional[float]:
        return rate_of(self.values)

    @property
    def hardship_gap(self) -> Optional[int]:
        should, enrolled = self.values.get(HARDSHIP_SHOULD), self.values.get(HARDSHIP_ENROLLED)
        if should is None or enrolled is None:
            return None
        return max(should - enrolled, 0)


#: the words of the two measures a unit is judged by
MEASURE_WORDS = {"completion": "完成率", "rate": "参保率"}


def main_measure_name(task: Optional[int]) -> str:
    """The main measure: 完成率 (against the 任务数) where the unit has a task, else 参保率. Ranks,
    lights, 约谈, forecasts, the review page and the 通报 all judge a unit by it."""
    return "completion" if task else "rate"


def main_measure(task: Optional[int], completion: Optional[float], rate: Optional[float]) -> Optional[float]:
    """The value of the main measure, of the two a unit has."""
    return completion if main_measure_name(task) == "completion" else rate


def ratio(part: Optional[int], whole: Optional[int]) -> Optional[float]:
    """The one place a rate is computed: from counts, never averaged."""
    if part is None or not whole:
        return None
    return part / whole


def rate_of(values: dict[str, Optional[int]]) -> Optional[float]:
    """居民医保参保率 of one unit's values or of sums: 已参保 over 应参保."""
    return ratio(values.get(RATE_NUMERATOR), values.get(RATE_DENOMINATOR))


def _group_column(region: Region, level: str):
    """The stored ancestor column that names, for each report unit, its ancestor at `level`."""
    return Region.id if level == "village" else getattr(Region, f"{level}_id")


def _sums(indicators: Iterable[Indicator]):
    return [func.sum(getattr(Report, f"v{i.slot}")).label(i.key) for i in indicators]


def _scope(region: Region):
    """The filter for 'report units inside region', by the stored ancestor id of region's level."""
    return _group_column(region, region.level) == region.id


def child_totals(period: Period, region: Region, statuses=SUBMITTED,
                 level: Optional[str] = None) -> dict[int, Totals]:
    """Totals of each unit one level below `region` (or at `level`), keyed by its id: one query."""
    found = totals_by_period([period], region, statuses, level)
    return {unit_id: totals for (unit_id, _), totals in found.items()}


def totals_by_period(periods: list[Period], region: Region, statuses=SUBMITTED,
                     level: Optional[str] = None) -> dict[tuple[int, int], Totals]:
    """Totals per (child unit id, period id) for several periods of one campaign: one GROUP BY."""
    if not periods:
        return {}
    campaign = periods[0].campaign
    level = level or child_level(region.level)
    if level is None or _depth(level) > _depth(campaign.report_level):
        return {}  # below the report level nothing is filed
    indicators = campaign.indicators
    if statuses == SUBMITTED and _above_tallies(campaign, level):
        return _tally_totals(periods, region, level, indicators)
    group = _group_column(region, level).label("unit_id")
    # 迟报 counted in the same pass: submitted after its own period's deadline
    late = func.count(case(*[(and_(Report.period_id == p.id, Report.submitted_at >= p.deadline), 1)
                             for p in periods]))
    query = (select(group, Report.period_id, func.count(Report.id), late, *_sums(indicators))
             .select_from(Report).join(Region, Region.id == Report.region_id)
             .where(Report.period_id.in_([p.id for p in periods]), Report.status.in_(statuses),
                    _scope(region))
             .group_by(group, Report.period_id))
    result = {}
    for row in db.session.execute(query):
        values = {i.key: row[4 + n] for n, i in enumerate(indicators) if row[4 + n] is not None}
        result[(row[0], row[1])] = Totals(values, row[2], row[3])
    return result


def _above_tallies(campaign, level: str) -> bool:
    """Whether units at `level` sum whole tallies (at or above the report units' parents)."""
    unit = tally_level(campaign)
    return unit is not None and _depth(level) <= _depth(unit)


def _tally_sums(indicators: Iterable[Indicator]):
    # PostgreSQL sums a bigint into numeric; the cast keeps the totals integers.
    return select(func.sum(Tally.reports), func.sum(Tally.late),
                  *[cast(func.sum(getattr(Tally, f"s{i.slot}")), BigInteger).label(i.key) for i in indicators])


def _tally_scope(campaign, region: Region):
    """The tallies inside `region`, by the ancestor ids each tally carries (no join to the regions)."""
    if region.level == tally_level(campaign):
        return Tally.region_id == region.id
    return getattr(Tally, f"{region.level}_id") == region.id


def _tally_totals(periods: list[Period], region: Region, level: str,
                  indicators: list[Indicator]) -> dict[tuple[int, int], Totals]:
    """totals_by_period from the tallies: one row per parent unit of the report units, not per unit."""
    campaign = periods[0].campaign
    group = Tally.region_id if level == tally_level(campaign) else getattr(Tally, f"{level}_id")
    query = (_tally_sums(indicators).add_columns(group.label("unit_id"), Tally.period_id)
             .where(Tally.period_id.in_([p.id for p in periods]), Tally.reports > 0,
                    _tally_scope(campaign, region))
             .group_by(group, Tally.period_id))
    result = {}
    width = 2 + len(indicators)
    for row in db.session.execute(query):
        values = {i.key: row[2 + n] for n, i in enumerate(indicators) if row[2 + n] is not None}
        result[(row[width], row[width + 1])] = Totals(values, row[0], row[1])
    return result


@dataclass
class FilingCounts:
    """How the report-level units under one unit stand for a period."""
    units: int
    submitted: int
    late: int
    #: Period.is_overdue at the moment judged: until then a unit not submitted is pending (待报)
    overdue: bool

    @property
    def status(self) -> str:
        """Worst of its units: missing (any unit not submitted after the due date; pending before
        it), late (any 迟报), else on_time."""
        if self.submitted < self.units:
            return "missing" if self.overdue else "pending"
        return "late" if self.late else "on_time"


def task_totals(campaign, region: Region, level: Optional[str] = None) -> dict[int, int]:
    """任务数 per child of `region`: its own target, else the sum of its report-level units' targets."""
    from reporting.models import Target
    level = level or child_level(region.level) or region.level
    group = _group_column(region, level).label("unit_id")
    summed = dict(db.session.execute(
        select(group, func.sum(Target.task)).select_from(Target).join(Region, Region.id == Target.region_id)
        .where(Target.campaign_id == campaign.id, Region.level == campaign.report_level, _scope(region))
        .group_by(group)).all())
    own = dict(db.session.execute(
        select(Target.region_id, Target.task).join(Region, Region.id == Target.region_id)
        .where(Target.campaign_id == campaign.id, Region.level == level, _scope(region))).all())
    return {**summed, **own}


def region_totals(period: Period, region: Region, statuses=SUBMITTED) -> Totals:
    """Totals of everything filed under `region` (the region itself if it files): one query."""
    indicators = period.campaign.indicators
    if statuses == SUBMITTED and _above_tallies(period.campaign, region.level):
        query = _tally_sums(indicators).where(Tally.period_id == period.id, Tally.reports > 0,
                                              _tally_scope(period.campaign, region))
        row = db.session.execute(query).one()
        return Totals({i.key: row[2 + n] for n, i in enumerate(indicators) if row[2 + n] is not None},
                      row[0] or 0, row[1] or 0)
    row = db.session.execute(
        select(func.count(Report.id), *_sums(indicators))
        .select_from(Report).join(Region, Region.id == Report.region_id)
        .where(Report.period_id == period.id, Report.status.in_(statuses),
               _scope(region))).one()
    return Totals({i.key: row[1 + n] for n, i in enumerate(indicators) if row[1 + n] is not None}, row[0])


def basis(period: Period, region: Region, level: Optional[str] = None) -> dict[int, list[Totals]]:
    """DESIGN.md's one basis (口径): for each unit at `level` under `region` (by default its
    children), its Totals for every period of the campaign up to `period`, in order.

    A report-level unit that has not submitted a period counts with its latest submitted report
    of an earlier period (carried, `carried_from`); one that never submitted counts zero. A unit
    without anything filed is absent. One query: over the tallies' per-period changes above the
    report level, over the reports of one parent's units at it.
    """
    campaign = period.campaign
    level = level or child_level(region.level) or region.level
    periods = [p for p in campaign.periods if p.seq <= period.seq]
    if _depth(level) > _depth(campaign.report_level):
        return {}
    if level == campaign.report_level:
        return _unit_basis(periods, region, level)
    indicators = campaign.indicators
    group = Tally.region_id if level == tally_level(campaign) else getattr(Tally, f"{level}_id")
    query = (select(group.label("unit_id"), Tally.period_id, func.sum(Tally.reports), func.sum(Tally.late),
                    func.sum(Tally.first_reports),
                    *[cast(func.sum(getattr(Tally, f"b{i.slot}")), BigInteger) for i in indicators])
             .where(Tally.period_id.in_([p.id for p in periods]), _tally_scope(campaign, region))
             .group_by(group, Tally.period_id))
    found: dict[int, dict[int, tuple]] = {}
    for row in db.session.execute(query):
        found.setdefault(row[0], {})[row[1]] = row[2:]
    result = {}
    for unit_id, by_period in found.items():
        running, filed, last, series = [0] * len(indicators), 0, None, []
        for p in periods:
            reports, late, first, *changes = by_period.get(p.id) or (0, 0, 0, *[0] * len(indicators))
            running = [a + int(b or 0) for a, b in zip(running, changes)]
            filed += int(first or 0)
            reports = int(reports or 0)
            values = {i.key: running[n] for n, i in enumerate(indicators)} if filed else {}
            series.append(Totals(values, reports, int(late or 0), filed,
                                 last if filed > reports else None))
            if reports:
                last = p
        result[unit_id] = series
    return result


def basis_at(period: Period, region: Region, level: Optional[str] = None) -> dict[int, Totals]:
    """basis() at `period` alone, for each unit at `level` under `region`: above the report level
    one GROUP BY over the tallies' changes up to that period, summed per unit rather than per
    period (what 上年同期 reads: the same figures as basis()'s last entry, without `carried_from`)."""
    campaign = period.campaign
    level = level or child_level(region.level) or region.level
    if _depth(level) > _depth(campaign.report_level):
        return {}
    if level == campaign.report_level:
        return {unit_id: series[-1] for unit_id, series in basis(period, region, level).items()}
    indicators = campaign.indicators
    group = Tally.region_id if level == tally_level(campaign) else getattr(Tally, f"{level}_id")
    this = Tally.period_id == period.id
    query = (select(group.label("unit_id"), func.sum(case((this, Tally.reports), else_=0)),
                    func.sum(case((this, Tally.late), else_=0)), func.sum(Tally.first_reports),
                    *[cast(func.sum(getattr(Tally, f"b{i.slot}")), BigInteger) for i in indicators])
             .where(Tally.period_id.in_(select(Period.id).where(Period.campaign_id == campaign.id,
                                                                Period.seq <= period.seq)),
                    _tally_scope(campaign, region))
             .group_by(group))
    result = {}
    for unit_id, reports, late, filed, *sums in db.session.execute(query):
        filed = int(filed or 0)
        values = {i.key: int(v or 0) for i, v in zip(indicators, sums)} if filed else {}
        result[unit_id] = Totals(values, int(reports or 0), int(late or 0), filed)
    return result


def _unit_basis(periods: list[Period], region: Region, level: str) -> dict[int, list[Totals]]:
    """basis() for report-level units (one parent's, or the unit itself), from their reports."""
    indicators = periods[0].campaign.indicators
    scope = Report.region_id == region.id if region.level == level else \
        Report.region_id.in_(select(Region.id).where(_scope(region), Region.level == level))
    rows = db.session.execute(
        select(Report.region_id, Report.period_id, Report.submitted_at,
               *[getattr(Report, f"v{i.slot}") for i in indicators])
        .where(Report.period_id.in_([p.id for p in periods]), Report.status.in_(SUBMITTED), scope))
    found: dict[int, dict[int, tuple]] = {}
    for row in rows:
        found.setdefault(row[0], {})[row[1]] = row[2:]
    result = {}
    for unit_id, by_period in found.items():
        values, last, series = {}, None, []
        for p in periods:
            mine = by_period.get(p.id)
            if mine is not None:
                values = {i.key: mine[1 + n] for n, i in enumerate(indicators) if mine[1 + n] is not None}
                series.append(Totals(values, 1, int(mine[0] is not None and p.is_late(mine[0])), 1))
                last = p
            else:
                series.append(Totals(dict(values), 0, 0, int(last is not None), last))
        result[unit_id] = series
    return result


def _depth(level: str) -> int:
    from reporting.models import LEVELS
    return LEVELS.index(level)
