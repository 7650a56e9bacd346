"""Measures, ranks and flags of the units under one region for one period (DESIGN.md's rules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from sqlalchemy import func, select

from .extensions import db
from .hierarchy import child_level, children
from .indicators import HARDSHIP_ENROLLED, HARDSHIP_SHOULD, RATE_NUMERATOR
from .models import Campaign, Period, Region, Target
from .rollup import FilingCounts, Totals, filing_counts, ratio, task_totals, totals_by_period
from .schedule import time_progress
from .validation import jump_warning

MEASURES = {"completion": "完成率", "rate": "参保率", "increase": "较上期提高", "hardship": "困难群众参保率"}
LIGHTS = {"green": "绿", "yellow": "黄", "red": "红"}
LATE_NAMES = {"on_time": "按时", "late": "迟报", "missing": "未报"}
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
class UnitProgress:
    region: Region
    totals: Totals
    task: Optional[int]
    counts: FilingCounts
    previous: Optional[Totals] = None
    rank: Optional[int] = None
    interview: bool = False
    anomalies: list[str] = field(default_factory=list)
    light: str = "red"
    below_target: bool = False

    @property
    def enrolled(self) -> Optional[int]:
        return self.totals.get(RATE_NUMERATOR)

    @property
    def rate(self) -> Optional[float]:
        return self.totals.rate

    @property
    def completion(self) -> Optional[float]:
        return ratio(self.enrolled, self.task)

    @property
    def main_measure(self) -> Optional[float]:
        """完成率 when the unit has a task, else 参保率: what lights and 约谈 judge."""
        return self.completion if self.task else self.rate

    @property
    def increase(self) -> Optional[float]:
        """The change of the main measure since the last period, in fractions (points / 100)."""
        if self.previous is None:
            return None
        before = ratio(self.previous.get(RATE_NUMERATOR), self.task) if self.task else self.previous.rate
        now = self.main_measure
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

    def measure(self, name: str) -> Optional[float]:
        return {"completion": self.completion if self.task else None, "rate": self.rate,
                "increase": self.increase, "hardship": self.hardship_coverage}[name]


@dataclass
class Progress:
    campaign: Campaign
    period: Period
    region: UnitProgress
    children: list[UnitProgress]
    time_progress: float
    measure: str


def default_measure(campaign: Campaign) -> str:
    """完成率 when the campaign has tasks (任务数), else 参保率."""
    has_tasks = db.session.scalar(select(func.count(Target.id)).where(Target.campaign_id == campaign.id))
    return "completion" if has_tasks else "rate"


def progress(period: Period, region: Region, measure: Optional[str] = None) -> Progress:
    """Everything the dashboard and the API show for `region` at `period`, in a handful of queries."""
    campaign = period.campaign
    measure = measure or default_measure(campaign)
    if measure not in MEASURES:
        raise ValueError(f"排名指标应为 {'、'.join(MEASURES)} 之一，而不是 {measure}")
    progress_at = time_progress(campaign, period.as_of)
    bottom, streak = campaign.interview_rule(child_level(region.level) or region.level)
    window = [p for p in campaign.periods if period.seq - max(streak, 2) < p.seq <= period.seq]
    below_report_level = region.level == campaign.report_level
    units = [] if below_report_level else children(region)
    level = units[0].level if units else region.level
    sums = totals_by_period(window, region, level=level) if units else {}
    tasks = task_totals(campaign, region, level) if units else {}
    before = window[-2] if len(window) >= 2 else None

    rows = []
    for unit in units:
        totals = sums.get((unit.id, period.id), Totals({}))
        rows.append(UnitProgress(region=unit, totals=totals, task=tasks.get(unit.id),
                                 counts=FilingCounts(unit.units(campaign.report_level), totals.reports, totals.late),
                                 previous=sums.get((unit.id, before.id)) if before else None))
    for row, rank in zip(rows, competition_ranks([r.measure(measure) for r in rows])):
        row.rank = rank
    _flag(rows, campaign, period, progress_at)
    _interviews(rows, window[-streak:] if len(window) >= streak else [], sums, tasks, bottom)
    head = _head(campaign, period, region, rows, before)
    head.light = light(head.main_measure, progress_at)
    head.below_target = period.as_of >= campaign.end and (head.rate or 0) < float(campaign.target_rate)
    return Progress(campaign, period, head, rows, progress_at, measure)


def _head(campaign, period, region, rows, before) -> UnitProgress:
    """The region's own line: sums of its children (or its own report when it files itself)."""
    if rows:
        values: dict[str, int] = {}
        previous: dict[str, int] = {}
        for row in rows:
            for key, value in row.totals.values.items():
                values[key] = values.get(key, 0) + value
            for key, value in (row.previous.values if row.previous else {}).items():
                previous[key] = previous.get(key, 0) + value
        counts = FilingCounts(sum(r.counts.units for r in rows), sum(r.counts.submitted for r in rows),
                              sum(r.counts.late for r in rows))
        totals = Totals(values, sum(r.totals.reports for r in rows))
        # compare like with like: a unit missing from either period would fake a change
        comparable = all((r.previous is not None) == bool(r.totals.reports) for r in rows)
        prev = Totals(previous) if before and comparable else None
    else:
        from .rollup import region_totals
        totals = region_totals(period, region)
        prev = region_totals(before, region) if before else None
        counts = filing_counts(period, region.parent or region, region.level).get(region.id, FilingCounts())
    own = db.session.scalar(select(Target.task).where(Target.campaign_id == campaign.id,
                                                      Target.region_id == region.id))
    task = own if own is not None else (sum(r.task for r in rows if r.task) or None)
    return UnitProgress(region=region, totals=totals, task=task, counts=counts, previous=prev)


def _flag(rows: list[UnitProgress], campaign: Campaign, period: Period, progress_at: float) -> None:
    increases = {r.region.id: r.enrolled - r.previous.get(RATE_NUMERATOR)
                 for r in rows if r.previous and r.enrolled is not None
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


def _interviews(rows, streak_periods, sums, tasks, bottom: int) -> None:
    """约谈: in the bottom `bottom` of the siblings in each of the last K periods (missing is lowest)."""
    if not streak_periods or len(rows) <= bottom:
        return
    flagged = {r.region.id: True for r in rows}
    for period in streak_periods:
        values = []
        for row in rows:
            totals = sums.get((row.region.id, period.id))
            enrolled = totals.get(RATE_NUMERATOR) if totals else None
            task = tasks.get(row.region.id)
            values.append(ratio(enrolled, task) if task else (totals.rate if totals else None))
        if len(set(values)) == 1:
            flagged = dict.fromkeys(flagged, False)  # all level: nobody is behind the others
            break
        for row, position in zip(rows, bottom_positions(values)):
            if position > bottom:
                flagged[row.region.id] = False
    for row in rows:
        row.interview = flagged[row.region.id]


def progress_json(result: Progress) -> dict:
    """The answer of GET /api/v1/progress/{code} (API.md)."""
    head = result.region
    return {
        "region": {"code": head.region.code, "name": head.region.name, "totals": head.totals.values,
                   "rate": head.rate, "completion": head.completion,
                   "time_progress": result.time_progress, "light": head.light, "late": head.late},
        "children": [{"code": r.region.code, "name": r.region.name, "rank": r.rank,
                      "totals": r.totals.values, "rate": r.rate, "completion": r.completion,
                      "increase": r.increase, "light": r.light, "late": r.late,
                      "interview": r.interview, "hardship_gap": r.hardship_gap,
                      "anomalies": r.anomalies, "below_target": r.below_target}
                     for r in sorted(result.children, key=lambda r: (r.rank, r.region.code))],
        "period": {"id": result.period.id, "label": result.period.label,
                   "as_of": result.period.as_of.isoformat(), "due": result.period.due.isoformat()},
        "measure": result.measure,
    }
