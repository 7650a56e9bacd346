"""Departments (条线) of a campaign: their own indicators, reports, tasks and standing beside the units.

A department (区民政局, 区税务局…) files a chosen subset of the campaign's indicators on the campaign's
rhythm, through the same save_report as a unit of the tree. Its report is a Report row with
`department_id` set and no `region_id`, so no regional sum, tally or ranking ever reads it: the
groups it reports (救助对象, students…) are already inside the towns' counts.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, select

from reporting import audit, versions
from reporting.calendar.schedule import time_progress
from reporting.extensions import db
from reporting.filing.filing import late_status, report_json
from reporting.indicators import HARDSHIP_ENROLLED, HARDSHIP_SHOULD, RATE_DENOMINATOR, RATE_NUMERATOR
from reporting.models import VALUE_SLOTS, Campaign, Department, Indicator, Period, Region, Report
from reporting.progress.ranking import light
from reporting.progress.rollup import main_measure, ratio
from reporting.validation import ENROLLED_SUFFIX, SHOULD_SUFFIX

#: a report that counts in totals (a later review may approve it; it still counts)
COUNTED = ("submitted", "approved")
#: pairs (enrolled, should) whose ratio is a department's 参保率, the first it files; any other
#: X_enrolled with an X_should (e.g. a department-only group_enrolled, group_should) is one too
COVERAGE_PAIRS = ((RATE_NUMERATOR, RATE_DENOMINATOR), (HARDSHIP_ENROLLED, HARDSHIP_SHOULD))
#: a department's 报送 status in words (it files once a period, so 未报 says whether it is overdue)


class DepartmentError(ValueError):
    """A department or indicator that cannot be made as asked; the message says why in one line."""


def add_indicator(campaign: Campaign, key: str, label: str, part_of: Optional[str] = None) -> Indicator:
    """An indicator only departments file (e.g. 税务局's 已缴费人数), on the next free value column."""
    taken = {i.key: i for i in campaign.all_indicators}
    key, label = key.strip(), label.strip()
    if not key.isidentifier() or not key.isascii():
        raise DepartmentError(f"指标代码应为英文字母、数字和下划线，而不是“{key}”")
    if key in taken:
        raise DepartmentError(f"指标 {key} 已存在（{taken[key].label}）")
    if not label:
        raise DepartmentError("指标名称不能为空")
    if part_of is not None and part_of not in taken:
        raise DepartmentError(f"指标 {key} 所属的总数 {part_of} 不在表中")
    slots = {i.slot for i in taken.values()}
    free = [slot for slot in range(1, VALUE_SLOTS + 1) if slot not in slots]
    if not free:
        raise DepartmentError(f"一张进度表最多{VALUE_SLOTS}个指标，已没有空位")
    indicator = Indicator(campaign_id=campaign.id, key=key, label=label, part_of=part_of,
                          position=max((i.position for i in taken.values()), default=0) + 1,
                          slot=free[0], departments_only=True)
    db.session.add(indicator)
    db.session.flush()
    db.session.expire(campaign, ["all_indicators"])
    versions.bump_all(campaign)
    return indicator


def default_measure(keys: list[str]) -> str:
    """What a department's task is measured on when it is not said: 已参保人数 if it files it, else
    the first enrolled count it files (…_enrolled), else its last indicator."""
    if RATE_NUMERATOR in keys:
        return RATE_NUMERATOR
    return next((key for key in keys if key.endswith(ENROLLED_SUFFIX)), keys[-1])


def add_department(campaign: Campaign, name: str, keys: list[str], region: Optional[Region] = None,
                   measure: Optional[str] = None) -> Department:
    """A department of `campaign` sitting at `region` (default: the campaign's root)."""
    name = name.strip()
    if not name:
        raise DepartmentError("部门名称不能为空")
    if len(name) > 100:
        raise DepartmentError("部门名称过长（最多100字）")
    region = region or campaign.root
    if not campaign.root.contains(region):
        raise DepartmentError(f"{region.name}不在征缴期“{campaign.name}”范围内")
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        raise DepartmentError("请列出部门填报的指标（--indicators KEY[,KEY…]）")
    known = {i.key: i for i in campaign.all_indicators}
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise DepartmentError(f"指标 {'、'.join(unknown)} 不在本征缴期的进度表中"
                              f"（可用：{'、'.join(known)}）")
    if len(set(keys)) != len(keys):
        raise DepartmentError("指标重复")
    measure = measure or default_measure(keys)
    if measure not in keys:
        raise DepartmentError(f"考核指标 {measure} 不在部门填报的指标中")
    if db.session.scalar(select(Department).where(Department.campaign_id == campaign.id,
                                                  Department.name == name)):
        raise DepartmentError(f"征缴期“{campaign.name}”已有部门“{name}”")
    position = db.session.scalar(select(func.count(Department.id)).where(
        Department.campaign_id == campaign.id))
    department = Department(campaign=campaign, region=region, name=name, indicator_keys=keys,
                            measure=measure, position=position + 1)
    db.session.add(department)
    db.session.flush()
    versions.bump_at(campaign, region)  # the dashboard there lists it
    audit.record("department.create", None, region=region, target=f"部门 {department.id} {name}",
                 after={"campaign": campaign.id, "indicators": keys, "measure": measure})
    return department


def departments_at(campaign: Campaign, region: Region) -> list[Department]:
    """The departments of `campaign` sitting at `region`, in the order they were added."""
    return list(db.session.scalars(select(Department).where(
        Department.campaign_id == campaign.id, Department.region_id == region.id)
        .order_by(Department.position, Department.id)))


def departments_under(period: Period, region: Region):
    """The ids (a select) of the campaign's departments sitting at `region` or a unit below it."""
    scope = Region.id == region.id
    if region.level != "village":
        scope = scope | (getattr(Region, f"{region.level}_id") == region.id)
    return (select(Department.id).join(Region, Region.id == Department.region_id)
            .where(Department.campaign_id == period.campaign_id, scope))


def report_answer(report: Optional[Report], period: Period, department: Department, now: dt.datetime) -> dict:
    """A department's report in the API's shape: a region's report, with the department's values."""
    answer = report_json(report, period, department.region, now)
    answer["values"] = ({k: v for k, v in report.values(department.indicators()).items() if v is not None}
                        if report else {})
    answer["department_id"] = department.id
    answer["department"] = department.name
    return answer


@dataclass
class DepartmentProgress:
    """One department's standing for a period, on the one basis of totals (DESIGN.md)."""
    department: Department
    #: its counts: the report of the period, or the latest earlier one carried forward; zeros if none
    totals: dict[str, int]
    #: the period's own report (any status), if there is one
    report: Optional[Report]
    #: the period whose figures are carried forward, when it has not submitted this one
    carried_from: Optional[Period]
    #: on_time, late, missing or pending
    late: str
    time_progress: float

    @property
    def task(self) -> Optional[int]:
        return self.department.task

    @property
    def measured(self) -> int:
        return self.totals.get(self.department.measure, 0)

    @property
    def completion(self) -> Optional[float]:
        return ratio(self.measured, self.task)

    @property
    def rate(self) -> Optional[float]:
        named = tuple((key, key.removesuffix(ENROLLED_SUFFIX) + SHOULD_SUFFIX)
                      for key in self.totals if key.endswith(ENROLLED_SUFFIX))
        for enrolled, should in COVERAGE_PAIRS + named:
            if enrolled in self.totals and should in self.totals:
                return ratio(self.totals[enrolled], self.totals[should])
        return None

    @property
    def main_measure(self) -> Optional[float]:
        return main_measure(self.task, self.completion, self.rate)

    @property
    def anomalies(self) -> list[str]:
        """What is doubtful in its figures, as a unit's are flagged: above 100% is a typing error or a
        wrong 任务数 or 应参保, never a success."""
        found = []
        if self.task and self.completion is not None and self.completion > 1:
            found.append("完成率超过100%，请核实")
        if self.rate is not None and self.rate > 1:
            found.append("参保率超过100%，请核实")
        return found

    @property
    def light(self) -> str:
        measure = self.main_measure
        if measure is not None and measure > 1:
            return "yellow"  # flagged for a second look (anomalies says why), never green
        return light(measure, self.time_progress)

    @property
    def never_filed(self) -> bool:
        return self.carried_from is None and not (self.report and self.report.status in COUNTED)

    def as_json(self) -> dict:
        report = self.report
        return {"id": self.department.id, "name": self.department.name,
                "region_code": self.department.region.code, "indicators": self.department.indicator_keys,
                "totals": self.totals, "late": self.late,
                "status": report.status if report else "missing",
                "submitted_at": report.submitted_at.isoformat() if report and report.submitted_at else None,
                "carried_from": self.carried_from.id if self.carried_from else None,
                "task": self.task, "measure": self.department.measure, "completion": self.completion,
                "rate": self.rate, "light": self.light, "anomalies": self.anomalies}


def department_progress(period: Period, region: Region, now: dt.datetime) -> list[DepartmentProgress]:
    """The departments sitting at `region` for `period`: two queries, whatever their number."""
    campaign = period.campaign
    departments = departments_at(campaign, region)
    if not departments:
        return []
    ids = [d.id for d in departments]
    own = {r.department_id: r for r in db.session.scalars(select(Report).where(
        Report.period_id == period.id, Report.department_id.in_(ids)))}
    # the latest counted report of each department up to this period: a unit's cumulative counts
    # never vanish because it has not filed yet
    latest: dict[int, tuple[Report, Period]] = {}
    for report, filed in db.session.execute(
            select(Report, Period).join(Period, Period.id == Report.period_id)
            .where(Report.department_id.in_(ids), Report.status.in_(COUNTED),
                   Period.campaign_id == campaign.id, Period.seq <= period.seq)
            .order_by(Period.seq.desc())).all():
        latest.setdefault(report.department_id, (report, filed))
    progress_at = time_progress(campaign, period.as_of)
    rows = []
    for department in departments:
        indicators = department.indicators()
        found = latest.get(department.id)
        totals = {i.key: 0 for i in indicators}
        carried = None
        if found is not None:
            report, filed = found
            totals.update({k: v for k, v in report.values(indicators).items() if v is not None})
            carried = filed if filed.id != period.id else None
        rows.append(DepartmentProgress(department, totals, own.get(department.id), carried,
                                       late_status(own.get(department.id), period, now), progress_at))
    return rows
