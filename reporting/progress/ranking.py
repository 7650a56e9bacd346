"""Measures, ranks and flags of the units under one region for one period (DESIGN.md's rules)."""
from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import aliased, joinedload

from reporting import clock
from reporting.basis.system_figures import SystemFigures, figures_for, gap, merged, mismatch, mismatch_text
from reporting.calendar.schedule import same_day_last_year, time_progress
from reporting.extensions import db
from reporting.indicators import HARDSHIP_ENROLLED, HARDSHIP_SHOULD, RATE_DENOMINATOR, RATE_NUMERATOR
from reporting.models import Campaign, Indicator, Period, Region, Target
from reporting.progress.rollup import (
    Brief,
    FilingCounts,
    Totals,
    bases,
    basis_through,
    load_forms,
    main_measure,
    main_measure_name,
    ratio,
    summed,
    summed_series,
    tasks_of,
)
from reporting.regions.hierarchy import children
from reporting.validation import jump_warning

MEASURES = {"completion": "完成率", "rate": "参保率", "increase": "较上期提高", "hardship": "困难群众参保率"}
LIGHTS = {"green": "绿", "yellow": "黄", "red": "红"}
#: a light turns red this far below 序时进度
RED_MARGIN = 0.10


def light(value: Optional[float], progress: float) -> str:
    """红 below time progress minus 10 points, 黄 below time progress, 绿 at or above."""
    if value is None or value < progress - RED_MARGIN - 1e-12:
        return "red"
    if value < progress - 1e-12:
        return "yellow"
    return "green"


def competition_ranks(values: Sequence[Optional[float]]) -> list[Optional[int]]:
    """Rank from the highest, ties sharing a rank (1, 2, 2, 4); units without a value come last."""
    present = sorted((v for v in values if v is not None), reverse=True)
    first = {}
    for position, value in enumerate(present, start=1):
        first.setdefault(value, position)
    last = len(present) + 1
    return [first[v] if v is not None else last for v in values]


def bottom_positions(values: Sequence[Optional[float]]) -> list[int]:
    """Rank from the lowest, ties sharing (a unit without a value is the lowest of all)."""
    low = [float("-inf") if v is None else v for v in values]
    return [1 + sum(1 for other in low if other < mine) for mine in low]


@dataclass
class Forecast:
    """预计: where a unit's main measure ends the collection window at the pace of its last two periods."""
    #: the measure forecast at the window's end (completion, or rate without tasks)
    projected: Optional[float] = None
    #: the day it reaches its target (100% of the task, or the target rate), if it does
    reaches_on: Optional[dt.date] = None
    #: why there is no date (pace zero or negative, too few periods), else ""
    reason: str = ""
    #: 预计无法按期完成: the target will not be reached by the window's end
    misses: bool = False
    #: the day of the figures it starts from (its latest filed period), the people counted then
    #: against its measure's denominator, and how many more a day: what a region's forecast sums
    since: Optional[dt.date] = None
    people: float = 0.0
    people_per_day: float = 0.0


@dataclass
class Standing:
    """A unit's place among its siblings in one period that counts for 约谈."""
    period: Period
    rank: Optional[int]
    of: int
    #: 逾期未报 in that period (ranked the lowest)
    missing: bool = False
    #: 待报 in that period: ranked with the figures it carries, and never flagged for it
    pending: bool = False


class Figures:
    """The figures read off a unit's `totals` against its `task`: this year's and 上年同期's alike."""
    totals: Totals
    task: Optional[int]

    @property
    def enrolled(self) -> Optional[int]:
        return self.totals.get(RATE_NUMERATOR)

    @property
    def rate(self) -> Optional[float]:
        return self.totals.rate

    @property
    def completion(self) -> Optional[float]:
        """Enrolled over the task; a unit that never filed counts zero against its task."""
        return ratio(self.enrolled or 0, self.task)


@dataclass
class LastYear(Figures):
    """上年同期: a unit's figures in the previous campaign's period at the same point of the year,
    on that campaign's one basis, matched by region code (regions are one table, so by id)."""
    campaign_id: int
    period_id: int
    as_of: dt.date
    totals: Totals
    task: Optional[int] = None
    #: the region's own line only: its figures at each of last year's periods up to this one
    #: (as_of, totals), for the chart of both years
    course: list[tuple[dt.date, Totals]] = field(default_factory=list)

    def measure_of(self, totals: Totals, name: str) -> Optional[float]:
        """`name` (completion or rate) of last year's `totals`, against last year's 任务数."""
        return ratio(totals.get(RATE_NUMERATOR) or 0, self.task) if name == "completion" else totals.rate

    def json(self) -> dict:
        return {"campaign_id": self.campaign_id, "period_id": self.period_id, "as_of": self.as_of.isoformat(),
                "totals": self.totals.values, "completion": self.completion, "rate": self.rate}


@dataclass
class SameTime:
    """Which period of last year's campaign is this period's 上年同期."""
    campaign_id: int
    campaign_name: str
    period_id: int
    label: str
    as_of: dt.date


@dataclass
class UnitProgress(Figures):
    region: Region
    totals: Totals
    task: Optional[int]
    counts: FilingCounts
    previous: Optional[Totals] = None
    rank: Optional[int] = None
    interview: bool = False
    #: 预警: one more period in the bottom puts it on the 约谈 list
    warning: bool = False
    #: the periods and ranks behind `interview` or `warning`
    standings: list[Standing] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    light: str = "red"
    below_target: bool = False
    forecast: Forecast = field(default_factory=Forecast)
    #: its totals in every period up to this one, on the one basis
    series: list[Totals] = field(default_factory=list)
    #: 上年同期, when the campaign has a previous one with figures for this unit
    last_year: Optional[LastYear] = None
    #: its typed figures (填报数) of this period, whatever the campaign's basis
    reported: Optional[dict[str, int]] = None
    #: the information system's figures of this period, where they were imported
    system: Optional[SystemFigures] = None
    #: where `totals` came from: "system", or "reported" (填报数, also on the basis "system" where
    #: the system has no figures for the unit)
    source: str = "reported"
    #: typed 已参保 minus the system's, when beyond the campaign's threshold (与信息系统相差N人)
    system_difference: Optional[int] = None

    @property
    def typed(self) -> dict[str, int]:
        return self.reported if self.reported is not None else self.totals.values

    @property
    def system_gap(self) -> Optional[dict[str, int]]:
        """填报 − 系统, key by key (None without system figures, or before the unit has typed any)."""
        return gap(self.typed, self.system)

    @property
    def system_mismatch(self) -> bool:
        return self.system_difference is not None

    @property
    def system_flag(self) -> str:
        """与信息系统相差N人, or "" within the threshold."""
        return mismatch_text(self.system_difference) if self.system_difference is not None else ""

    @property
    def system_enrolled(self) -> Optional[int]:
        return self.system.totals.get(RATE_NUMERATOR) if self.system else None


    @property
    def main_measure(self) -> Optional[float]:
        """完成率 when the unit has a task, else 参保率: what lights and 约谈 judge."""
        return main_measure(self.task, self.completion, self.rate)

    def measure_of(self, totals: Optional[Totals]) -> Optional[float]:
        """The main measure of these totals (another period's) against this unit's task."""
        if totals is None:
            return None
        return ratio(totals.get(RATE_NUMERATOR) or 0, self.task) if self.task else totals.rate

    @property
    def increase(self) -> Optional[float]:
        """The change of the main measure since the last period, in fractions (points / 100)."""
        if self.previous is None:
            return None
        before, now = self.measure_of(self.previous), self.main_measure
        return None if now is None or before is None else now - before

    @property
    def hardship_coverage(self) -> Optional[float]:
        return ratio(self.totals.get(HARDSHIP_ENROLLED), self.totals.get(HARDSHIP_SHOULD))

    @property
    def hardship_gap(self) -> int:
        """困难群众 still to enroll (0 when covered, or when nothing is filed)."""
        return self.totals.hardship_gap or 0

    @property
    def late(self) -> str:
        return self.counts.status

    @property
    def carried(self) -> int:
        """Report-level units counted with an earlier period's figures (沿用)."""
        return self.totals.carried

    @property
    def carried_from(self) -> Optional[Period]:
        return self.totals.carried_from

    @property
    def never_filed(self) -> int:
        """Report-level units with nothing submitted yet (counted zero: 未报)."""
        return max(self.counts.units - self.totals.filed, 0)

    def measure(self, name: str) -> Optional[float]:
        return {"completion": self.completion if self.task else None, "rate": self.rate,
                "increase": self.increase, "hardship": self.hardship_coverage}[name]

    def yoy_measure(self, name: str) -> str:
        """The measure 较上年同期 compares: 完成率 or 参保率 as asked; for the other rankings
        (较上期提高, 困难群众) the main one, 完成率 when the unit has a task, else 参保率."""
        return name if name in ("completion", "rate") else main_measure_name(self.task)

    def yoy_change(self, name: str) -> Optional[float]:
        """This period's measure minus 上年同期's, in fractions (points / 100); None without both."""
        if self.last_year is None:
            return None
        which = self.yoy_measure(name)
        now = self.measure(which)
        then = self.last_year.completion if which == "completion" else self.last_year.rate
        return None if now is None or then is None else now - then

    @property
    def yoy_enrolled(self) -> Optional[int]:
        """已参保人数 minus 上年同期's; None until the unit has figures this year (a zero it never filed
        is no fall)."""
        if self.last_year is None or self.last_year.enrolled is None or self.enrolled is None:
            return None
        return self.enrolled - self.last_year.enrolled


@dataclass
class Progress:
    campaign: Campaign
    period: Period
    region: UnitProgress
    children: list[UnitProgress]
    time_progress: float
    measure: str
    #: the periods up to `period`, the order of every `series`
    periods: list[Period] = field(default_factory=list)
    #: the date the numbers were judged on: before `period.due` nobody is late
    today: Optional[dt.date] = None
    #: the 约谈 rule of the children's level: (末位N名, 连续K期)
    rule: tuple[int, int] = (1, 2)
    #: 上年同期: last year's period the `last_year` figures come from (None: no previous campaign,
    #: or none of its periods lies on or before this one's date a year earlier)
    same_time: Optional[SameTime] = None

    @property
    def yoy_measure(self) -> str:
        """The measure 较上年同期 is said in, for the region's own line."""
        return self.region.yoy_measure(self.measure)

    @property
    def has_system(self) -> bool:
        """Whether the information system's figures of the period reach this answer's units."""
        return self.region.system is not None or any(r.system is not None for r in self.children)

    @property
    def system_at(self) -> Optional[dt.date]:
        """数据日期 of the system's figures shown (the latest among the units)."""
        days = [r.system.at for r in [self.region, *self.children] if r.system is not None and r.system.at]
        return max(days, default=None)

    @property
    def mismatches(self) -> list[UnitProgress]:
        return [r for r in self.children if r.system_mismatch]

    @property
    def overdue(self) -> bool:
        """Whether the period's due date has passed (逾期 counts; before it units are 待报)."""
        return self.today is not None and self.period.is_overdue(self.today)

    @property
    def hardship_gap(self) -> int:
        """困难群众 not yet enrolled under the region: the sum of its units' gaps, so that a unit
        enrolled above its roster never hides another's uncovered people."""
        if not self.children:
            return self.region.hardship_gap
        return sum(r.hardship_gap for r in self.children)

    @property
    def interviews(self) -> list[UnitProgress]:
        return [r for r in self.children if r.interview]

    @property
    def warnings(self) -> list[UnitProgress]:
        return [r for r in self.children if r.warning]

    @property
    def pending(self) -> list[UnitProgress]:
        return [r for r in self.children if r.late == "pending"]

    @property
    def missing(self) -> list[UnitProgress]:
        return [r for r in self.children if r.late == "missing"]


def default_measure(campaign: Campaign) -> str:
    """完成率 when the campaign has tasks (任务数), else 参保率."""
    has_tasks = db.session.scalar(select(func.count(Target.id)).where(Target.campaign_id == campaign.id))
    return "completion" if has_tasks else "rate"


def progress(period: Period, region: Region, measure: Optional[str] = None,
             today: Optional[dt.date] = None) -> Progress:
    """Everything the dashboard, the API, the exports and the 通报 show for `region` at `period`,
    on the one basis (DESIGN.md's 口径), in a handful of queries. It depends only on the database
    and `today` (by default the server's date), which decides 待报 against 逾期未报."""
    campaign = period.campaign
    today = today or clock.today()
    measure = measure or default_measure(campaign)
    if measure not in MEASURES:
        raise ValueError(f"排名指标应为 {'、'.join(MEASURES)} 之一，而不是 {measure}")
    progress_at = time_progress(campaign, period.as_of)
    course, same_form = last_year_course(period)
    periods = [p for p in campaign.periods if p.seq <= period.seq]
    below_report_level = region.level == campaign.report_level
    units = [] if below_report_level else children(region)
    level = units[0].level if units else region.level
    rule = campaign.interview_rule(level)
    empty = [Totals({}) for _ in periods]
    campaigns = [campaign, *([course[-1].campaign] if course else [])]
    # last year's form is read only where it is not this year's
    load_forms(campaigns[:1] if same_form else campaigns)
    # this year's 任务数 and 上年同期's in one query
    both = tasks_of(campaigns, region, level)
    tasks = both[campaign.id][0] if units else {}
    # this year's basis and 上年同期's course, in one GROUP BY where the two campaigns share a form
    typed, *last_year = bases([periods, *([course] if course else [])], region, level, brief=(1,),
                              forms={1: campaign.indicators} if same_form else None)
    series, typed, system = figures_basis(period, region, level, [u.id for u in units] or [region.id], typed)
    overdue = period.is_overdue(today)

    rows = []
    for unit in units:
        mine = series.get(unit.id, empty)
        rows.append(UnitProgress(region=unit, totals=mine[-1], task=tasks.get(unit.id),
                                 counts=FilingCounts(unit.units(campaign.report_level), mine[-1].reports,
                                                     mine[-1].late, overdue),
                                 previous=mine[-2] if len(mine) >= 2 else None, series=mine,
                                 reported=typed.get(unit.id, empty)[-1].values))
    # after the due date a unit that has not filed ranks at the bottom, whatever it carries
    ranked = [None if r.late == "missing" else r.measure(measure) for r in rows]
    for row, rank in zip(rows, competition_ranks(ranked)):
        row.rank = rank
    _flag(rows, campaign, period, progress_at)
    _interviews(rows, periods, today, rule, overdue,
                progress_at if campaign.interview_below_time_progress(level) else None)
    head = _head(region, rows, series.get(region.id, empty) if not units else None, len(periods), overdue,
                 region_task(both[campaign.id][1], tasks.values()))
    head.reported = (summed([typed.get(u.id, empty)[-1].values for u in units]) if units
                     else typed.get(region.id, empty)[-1].values)
    for row in [head, *rows]:
        row.system = system.get((row.region.id, period.id))
        row.source = "system" if campaign.basis == "system" and row.system is not None else "reported"
        row.system_difference = mismatch(campaign, row.typed, row.system)
    head.light = light(head.main_measure, progress_at)
    head.below_target = period.as_of >= campaign.end and (head.rate or 0) < float(campaign.target_rate)
    for row in rows:
        row.forecast = forecast(row, periods, campaign)
    head.forecast = region_forecast(head, rows, period, campaign) if rows else forecast(head, periods, campaign)
    same_time = None
    if course:
        before = course[-1]
        same_time = SameTime(before.campaign_id, before.campaign.name, before.id, before.label, before.as_of)
        _last_year(course, last_year[0], region, head, rows, both[before.campaign_id])
    return Progress(campaign, period, head, rows, progress_at, measure, periods, today, rule, same_time)


def last_year_course(period: Period) -> tuple[list[Period], bool]:
    """The previous campaign's periods up to 上年同期 (see same_time_last_year), in order, with that
    campaign, and whether its regional form is this campaign's (the same keys in the same slots, as
    `campaign next` copies it): one query. No periods without a previous campaign or such a period."""
    previous_id = period.campaign.previous_id
    if previous_id is None:
        return [], False
    rows = db.session.execute(_course(), {"this": period.campaign_id, "last": previous_id,
                                          "day": same_day_last_year(period.as_of)}).all()
    return [row[0] for row in rows], bool(rows and rows[0][1])


@functools.cache
def _course():
    """last_year_course's statement, built once (its aliases would make each new build a new entry
    of SQLAlchemy's statement cache, compiled afresh)."""
    def unmatched(mine: str, theirs: str):
        a, b = aliased(Indicator), aliased(Indicator)
        return exists().where(a.campaign_id == bindparam(mine), a.departments_only.is_(False), ~exists().where(
            b.campaign_id == bindparam(theirs), b.departments_only.is_(False), b.key == a.key, b.slot == a.slot))
    # the two campaigns' regional forms hold the same keys in the same slots
    same_form = and_(~unmatched("this", "last"), ~unmatched("last", "this")).label("same_form")
    return (select(Period, same_form).options(joinedload(Period.campaign))
            .where(Period.campaign_id == bindparam("last"), Period.as_of <= bindparam("day"))
            .order_by(Period.seq))


def same_time_last_year(period: Period) -> Optional[Period]:
    """上年同期: the latest period of the previous campaign whose `as_of` is on or before this
    period's `as_of` a year earlier (29 February → 28 February); None without one."""
    course, _ = last_year_course(period)
    return course[-1] if course else None


def _last_year(course: list[Period], found: Brief, region: Region, head: UnitProgress,
               rows: list[UnitProgress], tasks: tuple[dict[int, int], Optional[int]]) -> None:
    """Set `last_year` on the head and the rows: the previous campaign's one basis over `course`
    (its periods up to 上年同期: `found`, by the same roll-up as this year's), against its 任务数
    (`tasks`: tasks_of's answer for that campaign)."""
    before = course[-1]
    campaign = before.campaign
    if not found.at_end or not campaign.covers(region):
        return
    children_tasks = tasks[0] if rows else {}
    for row in rows:
        mine = found.at_end.get(row.region.id)
        if mine and mine.filed:
            row.last_year = LastYear(campaign.id, before.id, before.as_of, mine, children_tasks.get(row.region.id))
    # every unit under the region last year, whether or not it is one of its children today
    own = found.summed
    if own and own[-1].filed:
        head.last_year = LastYear(campaign.id, before.id, before.as_of, own[-1],
                                  region_task(tasks[1], children_tasks.values()),
                                  [(p.as_of, totals) for p, totals in zip(course, own) if totals.filed])


def figures_basis(period: Period, region: Region, level: str, unit_ids: list[int],
                  typed: Optional[dict[int, list[Totals]]] = None) -> tuple[
        dict[int, list[Totals]], dict[int, list[Totals]], dict[tuple[int, int], SystemFigures]]:
    """The one basis of the units `unit_ids` at `level` under `region` (and of `region` itself),
    for every period up to `period`, on the campaign's choice of figures: (series, typed series,
    system figures by (region id, period id)).

    The typed series is rollup.basis (carried figures, 未报 counted zero), or `typed` when the caller
    has read it. On the basis "system"
    (以信息系统数据为准) each unit's figures of each period take every key the system has for it
    and keep the typed ones (填报数) elsewhere."""
    campaign = period.campaign
    periods = [p for p in campaign.periods if p.seq <= period.seq]
    typed = basis_through(periods, region, level) if typed is None else typed
    system = figures_for(periods, [region.id, *unit_ids])
    if campaign.basis != "system":
        return typed, typed, system
    empty = [Totals({}) for _ in periods]
    series = dict(typed)
    for unit_id in unit_ids:
        series[unit_id] = [replace(totals, values=merged(totals.values, system.get((unit_id, p.id))))
                           for totals, p in zip(typed.get(unit_id, empty), periods)]
    return series, typed, system


def _head(region, rows, own: Optional[list[Totals]], length: int, overdue: bool,
          task: Optional[int]) -> UnitProgress:
    """The region's own line: sums of its children, period by period (or its own when it files)."""
    if own is None:
        own = summed_series([r.series for r in rows], length)
        counts = FilingCounts(sum(r.counts.units for r in rows), own[-1].reports, own[-1].late, overdue)
    else:
        counts = FilingCounts(1, own[-1].reports, own[-1].late, overdue)
    return UnitProgress(region=region, totals=own[-1], task=task, counts=counts,
                        previous=own[-2] if length >= 2 else None, series=own)


def region_task(own: Optional[int], child_tasks) -> Optional[int]:
    """A region's 任务数: its own target (`own`), else the sum of its children's."""
    return own if own is not None else (sum(t for t in child_tasks if t) or None)


def _flag(rows: list[UnitProgress], campaign: Campaign, period: Period, progress_at: float) -> None:
    increases = {r.region.id: r.enrolled - r.previous.get(RATE_NUMERATOR)
                 for r in rows if r.previous and r.totals.reports and r.enrolled is not None
                 and r.previous.get(RATE_NUMERATOR) is not None}
    at_end = period.as_of >= campaign.end
    for row in rows:
        row.light = light(row.main_measure, progress_at)
        row.below_target = at_end and (row.rate or 0) < float(campaign.target_rate)
        if row.region.id in increases and increases[row.region.id] < 0:
            row.anomalies.append(f"已参保人数比上期减少{-increases[row.region.id]:,}人")
        if row.rate is not None and row.rate > 1:
            row.anomalies.append("参保率超过100%")
        if row.region.id in increases:
            others = [v for k, v in increases.items() if k != row.region.id]
            jump = jump_warning(increases[row.region.id], others)
            if jump:
                row.anomalies.append(jump)


def _bottom(rows: list[UnitProgress], at: int, period: Period, bottom: int,
            today: dt.date) -> Optional[dict[int, Standing]]:
    """The rows in the bottom `bottom` of the period at index `at` of their series, by the main
    measure: after the period's due date a row that had not filed it is the lowest; before it
    (待报) it ranks with the figures it carries. None when all stand level (nobody is behind)."""
    overdue = period.is_overdue(today)
    values, missing, pending = [], [], []
    for row in rows:
        totals = row.series[at]
        unfiled = totals.reports < row.counts.units
        missing.append(unfiled and overdue)
        pending.append(unfiled and not overdue)
        values.append(None if missing[-1] else row.measure_of(totals))
    if len(set(values)) == 1:
        return None
    ranks = competition_ranks(values)
    return {row.region.id: Standing(period, ranks[n], len(rows), missing[n], pending[n])
            for n, (row, position) in enumerate(zip(rows, bottom_positions(values))) if position <= bottom}


def _interviews(rows: list[UnitProgress], periods: list[Period], today: dt.date,
                rule: tuple[int, int], overdue: bool = True, below: Optional[float] = None) -> None:
    """约谈: in the bottom N of the siblings in each of the K latest periods, once the period has
    closed (its due date passed). Before that nobody is listed: the units that would be are 预警,
    as is a unit in the bottom for the K−1 latest periods, whom one more such period puts on the
    list. With `below` (序时进度, when the campaign asks for it) a unit at or above it is neither."""
    bottom, streak = rule
    if not rows or len(rows) <= bottom:
        return

    def run(count: int) -> dict[int, list[Standing]]:
        if count < 1 or len(periods) < count:
            return {}
        found: Optional[dict[int, list[Standing]]] = None
        for at in range(len(periods) - count, len(periods)):
            lowest = _bottom(rows, at, periods[at], bottom, today)
            if lowest is None:
                return {}
            found = {k: [*(found or {}).get(k, []), v] for k, v in lowest.items()
                     if found is None or k in found}
        return found or {}

    listed = run(streak)
    near = run(streak - 1) if streak > 1 else {}
    for row in rows:
        if below is not None and row.main_measure is not None and row.main_measure >= below:
            continue
        if row.region.id in listed:
            row.standings = listed[row.region.id]
            if row.late == "pending" or not overdue:
                row.warning = True
            else:
                row.interview = True
        elif row.region.id in near:
            row.warning, row.standings = True, near[row.region.id]


def forecast(row: UnitProgress, periods: list[Period], campaign: Campaign) -> Forecast:
    """预计 at the pace of the unit's last two periods: from its latest filed period (the one it
    carries, if it has not filed this one) and the one it filed before, in measure per day;
    linear to the collection window's end, not capped."""
    target = 1.0 if row.task else float(campaign.target_rate)
    filed = [n for n, totals in enumerate(row.series) if totals.reports]
    if not filed:
        return Forecast(reason="尚无报送数据，无法预计")
    at = filed[-1]
    now = row.measure_of(row.series[at])
    if now is None:
        return Forecast(reason="缺少应参保人数，无法预计")
    day = periods[at].as_of
    scale = row.task or row.series[at].get(RATE_DENOMINATOR) or 0
    start = dict(since=day, people=now * scale)
    if now >= target - 1e-12:
        return Forecast(projected=now, reaches_on=day, **start)
    if len(filed) < 2:
        return Forecast(projected=now, reason="仅有一期数据，无法计算进度", misses=day >= campaign.end, **start)
    # the period it filed before: a period it skipped carries figures, not pace
    before = row.measure_of(row.series[filed[-2]]) or 0.0
    days = (day - periods[filed[-2]].as_of).days
    pace = (now - before) / days if days > 0 else 0.0
    remaining = max((campaign.end - day).days, 0)
    if pace <= 1e-12:
        reason = "近两期进度未提高，按此进度无法完成" if pace > -1e-12 else "近两期进度下降，按此进度无法完成"
        return Forecast(projected=now, reason=reason, misses=True, **start)
    needed = math.ceil((target - now) / pace - 1e-9)
    reaches = day + dt.timedelta(days=needed)
    return Forecast(projected=now + pace * remaining, reaches_on=reaches, misses=reaches > campaign.end,
                    people_per_day=pace * scale, **start)


def region_forecast(head: UnitProgress, rows: list[UnitProgress], period: Period,
                    campaign: Campaign) -> Forecast:
    """A region's 预计 as the sum of its units' own: each grows at its own pace from its own
    latest figures, so the region's line agrees with the rows under it."""
    scale = head.task or head.totals.get(RATE_DENOMINATOR) or 0
    if not scale:
        return Forecast(reason="缺少任务数和应参保人数，无法预计")
    target = (1.0 if head.task else float(campaign.target_rate)) * scale
    day = period.as_of
    now = sum(r.forecast.people + r.forecast.people_per_day * (day - r.forecast.since).days
              for r in rows if r.forecast.since is not None)
    per_day = sum(r.forecast.people_per_day for r in rows)
    remaining = max((campaign.end - day).days, 0)
    projected = (now + per_day * remaining) / scale
    if head.main_measure is not None and head.main_measure * scale >= target - 1e-9:
        return Forecast(projected=projected, reaches_on=day)
    if per_day <= 0:
        return Forecast(projected=projected, reason="各单位近两期进度均未提高，按此进度无法完成", misses=True)
    reaches = day + dt.timedelta(days=max(math.ceil((target - now) / per_day - 1e-9), 0))
    return Forecast(projected=projected, reaches_on=reaches, misses=reaches > campaign.end)


def progress_json(result: Progress) -> dict:
    """The answer of GET /api/v1/progress/{code} (API.md)."""
    head = result.region

    def day(value: Optional[dt.date]) -> Optional[str]:
        return value.isoformat() if value else None

    return {
        "region": {"code": head.region.code, "name": head.region.name, "totals": head.totals.values,
                   "rate": head.rate, "completion": head.completion,
                   "time_progress": result.time_progress, "light": head.light, "late": head.late,
                   "carried": head.carried, "never_filed": head.never_filed,
                   "projected_completion": head.forecast.projected,
                   "reaches_target_on": day(head.forecast.reaches_on),
                   "basis": result.campaign.basis, "source": head.source,
                   "system": head.system.as_json() if head.system else None, "system_gap": head.system_gap,
                   "last_year": head.last_year.json() if head.last_year else None,
                   "yoy_change": head.yoy_change(result.measure), "yoy_enrolled": head.yoy_enrolled},
        "children": [{"code": r.region.code, "name": r.region.name, "rank": r.rank,
                      "totals": r.totals.values, "rate": r.rate, "completion": r.completion,
                      "increase": r.increase, "light": r.light, "late": r.late,
                      "interview": r.interview, "interview_warning": r.warning,
                      "hardship_gap": r.hardship_gap,
                      "anomalies": r.anomalies, "below_target": r.below_target,
                      "carried_from": r.carried_from.id if r.carried_from else None,
                      "carried": r.carried, "never_filed": r.never_filed,
                      "projected_completion": r.forecast.projected,
                      "reaches_target_on": day(r.forecast.reaches_on),
                      "forecast_misses": r.forecast.misses, "forecast_note": r.forecast.reason,
                      "system": r.system.as_json() if r.system else None, "system_gap": r.system_gap,
                      "system_mismatch": r.system_mismatch, "source": r.source,
                      "last_year": r.last_year.json() if r.last_year else None,
                      "yoy_change": r.yoy_change(result.measure), "yoy_enrolled": r.yoy_enrolled}
                     for r in sorted(result.children, key=lambda r: (r.rank, r.region.code))],
        "period": {"id": result.period.id, "label": result.period.label,
                   "as_of": result.period.as_of.isoformat(), "due": result.period.due.isoformat()},
        "measure": result.measure,
        "same_time_last_year": ({"campaign_id": result.same_time.campaign_id, "period_id": result.same_time.period_id,
                                 "label": result.same_time.label, "as_of": result.same_time.as_of.isoformat()}
                                if result.same_time else None),
    }
