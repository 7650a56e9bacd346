"""Live roll-up: every level's totals as one GROUP BY, over the tallies (小计) of the report units'
parents where a level sums whole parents, else over the report-level units themselves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from sqlalchemy import BigInteger, and_, case, cast, func, or_, select
from sqlalchemy.orm.attributes import set_committed_value

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
    return tasks_of([campaign], region, level)[campaign.id][0]


def tasks_of(campaigns: list, region: Region, level: Optional[str] = None) -> dict[int, tuple[dict[int, int], Optional[int]]]:
    """campaign id -> (task_totals of `region` at `level`, the region's own 任务数 or None), for
    several campaigns (this year's and 上年同期's) at once: one query of the units' own targets,
    and a sum of their report-level units' only for campaigns where some unit has none."""
    from reporting.models import Target
    level = level or child_level(region.level) or region.level
    ids = [c.id for c in campaigns]
    units = Region.parent_id == region.id if level == child_level(region.level) else \
        and_(Region.level == level, _scope(region))
    rows = db.session.execute(
        select(Region.id, Target.campaign_id, Target.task).select_from(Region)
        .outerjoin(Target, and_(Target.region_id == Region.id, Target.campaign_id.in_(ids)))
        .where(or_(Region.id == region.id, units))).all()
    unit_ids = {unit_id for unit_id, _, _ in rows if unit_id != region.id or level == region.level}
    found: dict[int, tuple[dict[int, int], Optional[int]]] = {}
    for campaign in campaigns:
        own = {unit_id: task for unit_id, campaign_id, task in rows if campaign_id == campaign.id}
        mine = own.pop(region.id, None) if level != region.level else own.get(region.id)
        if unit_ids - own.keys() and level != campaign.report_level:
            own = {**_summed_tasks(campaign, region, level), **own}
        found[campaign.id] = (own, mine)
    return found


def _summed_tasks(campaign, region: Region, level: str) -> dict[int, int]:
    """The sum of the report-level units' 任务数 per unit at `level` under `region`."""
    from reporting.models import Target
    group = _group_column(region, level).label("unit_id")
    return dict(db.session.execute(
        select(group, func.sum(Target.task)).select_from(Target).join(Region, Region.id == Target.region_id)
        .where(Target.campaign_id == campaign.id, Region.level == campaign.report_level, _scope(region))
        .group_by(group)).all())


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
    return basis_through([p for p in period.campaign.periods if p.seq <= period.seq], region, level)


def load_forms(campaigns: list) -> None:
    """Load the regional forms (`indicators`) of the campaigns that have not loaded theirs, in one
    query: this year's and 上年同期's are read together."""
    wanted = [c for c in campaigns if "indicators" not in c.__dict__]
    if not wanted:
        return
    found: dict[int, list[Indicator]] = {c.id: [] for c in wanted}
    for indicator in db.session.scalars(
            select(Indicator).where(Indicator.campaign_id.in_(found), Indicator.departments_only.is_(False))
            .order_by(Indicator.campaign_id, Indicator.position)):
        found[indicator.campaign_id].append(indicator)
    for campaign in wanted:
        set_committed_value(campaign, "indicators", found[campaign.id])


def basis_through(periods: list[Period], region: Region, level: Optional[str] = None) -> dict[int, list[Totals]]:
    """basis() over `periods`, the periods of one campaign from its first up to one of them, in order."""
    return bases([periods], region, level)[0]


@dataclass
class Brief:
    """A course's basis in brief, as 上年同期 reads it: each unit's figures at its last period, and
    the sum of every unit's at each of its periods (the region's line, whoever its children are now)."""
    at_end: dict[int, Totals]
    summed: list[Totals]


def bases(courses: list[list[Period]], region: Region, level: Optional[str] = None,
          brief: Sequence[int] = (), forms: Optional[dict[int, list[Indicator]]] = None) -> list:
    """basis_through() of each course (this year's periods and 上年同期's), or a Brief of the courses
    whose index is in `brief`: courses of campaigns that keep their tallies at one level with one
    form are summed in one GROUP BY. `forms` gives the form of a course whose campaign's own is
    known to be the same (上年同期's, made by `campaign next`), so that it is not read again."""
    level = level or child_level(region.level) or region.level
    result: list = [{} for _ in courses]
    shared: dict[tuple, list[int]] = {}
    for n, course in enumerate(courses):
        campaign = course[-1].campaign
        if _depth(level) > _depth(campaign.report_level):
            continue
        if level == campaign.report_level:
            result[n] = _unit_basis(course, region, level)
        else:
            indicators = (forms or {}).get(n) or campaign.indicators
            shared.setdefault((tally_level(campaign), tuple((i.key, i.slot) for i in indicators)), []).append(n)
    for (_, form), numbers in shared.items():
        found = _tally_changes([courses[n] for n in numbers], region, level, [slot for _, slot in form])
        keys = [key for key, _ in form]
        for n in numbers:
            result[n] = _brief(found, courses[n], keys) if n in brief else _running(found, courses[n], keys)
    for n in brief:
        if n < len(courses) and not isinstance(result[n], Brief):
            result[n] = Brief({unit_id: series[-1] for unit_id, series in result[n].items()},
                              summed_series(list(result[n].values()), len(courses[n])) if result[n] else [])
    return result


def _brief(found: dict[int, dict[int, tuple]], periods: list[Period], keys: list[str]) -> Brief:
    """A Brief straight from the tallies' changes: each unit's changes summed over the periods, and
    every unit's summed period by period, without a series for each unit."""
    ids, end = [p.id for p in periods], periods[-1].id
    at_end: dict[int, Totals] = {}
    merged: dict[int, list[int]] = {}
    for unit_id, by_period in found.items():
        rows = [(period_id, [int(x or 0) for x in by_period[period_id]]) for period_id in ids if period_id in by_period]
        if not rows:
            continue  # a unit with tallies in another course only
        total = [sum(column) for column in zip(*(row for _, row in rows))]
        last = by_period.get(end) or (0, 0)
        at_end[unit_id] = Totals(dict(zip(keys, total[3:])) if total[2] else {}, int(last[0] or 0),
                                 int(last[1] or 0), total[2])
        for period_id, row in rows:
            held = merged.get(period_id)
            merged[period_id] = row if held is None else [a + b for a, b in zip(held, row)]
    return Brief(at_end, _running({0: merged}, periods, keys).get(0, []))


def summed(values: Iterable[dict[str, int]]) -> dict[str, int]:
    """Several units' values summed key by key."""
    total: dict[str, int] = {}
    for one in values:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return total


def summed_series(series: list[list[Totals]], length: int) -> list[Totals]:
    """Several units' series summed period by period (a region's line from its units')."""
    return [Totals(summed(s[at].values for s in series), sum(s[at].reports for s in series),
                   sum(s[at].late for s in series), sum(s[at].filed for s in series)) for at in range(length)]


def _tally_changes(courses: list[list[Period]], region: Region, level: str,
                   slots: list[int]) -> dict[int, dict[int, tuple]]:
    """unit id -> period id -> (reports, late, first reports, *changes in each of `slots`), from the
    tallies of every period of `courses` (campaigns with one tally level and one form): one GROUP BY."""
    campaign = courses[0][-1].campaign
    group = Tally.region_id if level == tally_level(campaign) else getattr(Tally, f"{level}_id")
    query = (select(group.label("unit_id"), Tally.period_id, func.sum(Tally.reports), func.sum(Tally.late),
                    func.sum(Tally.first_reports),
                    *[cast(func.sum(getattr(Tally, f"b{slot}")), BigInteger) for slot in slots])
             .where(Tally.period_id.in_([p.id for course in courses for p in course]),
                    _tally_scope(campaign, region))
             .group_by(group, Tally.period_id))
    found: dict[int, dict[int, tuple]] = {}
    for row in db.session.execute(query):
        found.setdefault(row[0], {})[row[1]] = row[2:]
    return found


def _running(found: dict[int, dict[int, tuple]], periods: list[Period], keys: list[str]) -> dict[int, list[Totals]]:
    """The one basis of each unit over `periods` from the tallies' changes (_tally_changes)."""
    ids = {p.id for p in periods}
    result = {}
    for unit_id, by_period in found.items():
        if ids.isdisjoint(by_period):
            continue  # a unit with tallies in another course only
        running, values, filed, last, series = [0] * len(keys), {}, 0, None, []
        for p in periods:
            row = by_period.get(p.id)
            if row is None:  # nothing filed under the unit this period: all of it carried
                series.append(Totals(dict(values), 0, 0, filed, last if filed else None))
                continue
            reports, late, first, *changes = row
            reports, late = int(reports or 0), int(late or 0)
            filed += int(first or 0)
            running = [a + int(b or 0) for a, b in zip(running, changes)]
            values = dict(zip(keys, running)) if filed else {}
            series.append(Totals(values, reports, late, filed, last if filed > reports else None))
            if reports:
                last = p
        result[unit_id] = series
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
