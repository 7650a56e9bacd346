"""Filing a unit's form for a period: drafts, submission, late marks, corrections and conflicts."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from . import clock
from .extensions import db
from .hierarchy import descendants_at
from .indicators import RATE_NUMERATOR
from .models import Campaign, Indicator, Period, Region, Report, Revision, User
from .validation import FILER_FIELDS, Issue, check, parse_values


class ReportRejected(ValueError):
    """The form has errors; nothing was saved."""

    def __init__(self, errors: list[Issue], warnings: list[Issue] | None = None):
        self.errors = errors
        self.warnings = warnings or []
        super().__init__("；".join(e.message for e in errors[:3]))


class ReportConflict(ValueError):
    """Someone else changed the report since the writer read it, or the period is closed."""

    def __init__(self, message: str, report: Optional[Report] = None):
        self.report = report
        super().__init__(message)


@dataclass
class Outcome:
    report: Report
    warnings: list[Issue] = field(default_factory=list)
    #: rule errors a draft was saved with (the grid keeps typing; submission will refuse them)
    errors: list[Issue] = field(default_factory=list)
    changed: bool = True


def is_closed(campaign: Campaign, today: dt.date) -> bool:
    """A period is closed once the campaign (with its extension) has ended."""
    return today > campaign.closes_on


def is_report_unit(campaign: Campaign, region: Region) -> bool:
    return region.level == campaign.report_level and campaign.root.contains(region)


def find_report(period: Period, region: Region) -> Optional[Report]:
    return db.session.scalar(select(Report).where(Report.period_id == period.id,
                                                  Report.region_id == region.id))


def previous_period(period: Period) -> Optional[Period]:
    return db.session.scalar(select(Period).where(Period.campaign_id == period.campaign_id,
                                                  Period.seq == period.seq - 1))


def previous_values(period: Period, region_ids: list[int]) -> dict[int, dict[str, Optional[int]]]:
    """Each unit's submitted values of the period before `period`."""
    before = previous_period(period)
    if before is None or not region_ids:
        return {}
    indicators = period.campaign.indicators
    found = {}
    for chunk in range(0, len(region_ids), 5000):
        for report in db.session.scalars(select(Report).where(
                Report.period_id == before.id, Report.status == "submitted",
                Report.region_id.in_(region_ids[chunk:chunk + 5000]))):
            found[report.region_id] = report.values(indicators)
    return found


def sibling_increases(period: Period, region: Region) -> list[int]:
    """What the siblings of `region` gained in enrolled since the last period (one query)."""
    before = previous_period(period)
    if before is None or region.parent_id is None:
        return []
    slot = next(i.slot for i in period.campaign.indicators if i.key == RATE_NUMERATOR)
    now, then = aliased(Report), aliased(Report)
    column = lambda r: getattr(r, f"v{slot}")  # noqa: E731
    rows = db.session.execute(
        select(column(now) - column(then))
        .select_from(Region)
        .join(now, and_(now.region_id == Region.id, now.period_id == period.id))
        .join(then, and_(then.region_id == Region.id, then.period_id == before.id))
        .where(Region.parent_id == region.parent_id, Region.id != region.id,
               now.status == "submitted", then.status == "submitted"))
    return [r[0] for r in rows if r[0] is not None]


def save_report(period: Period, region: Region, raw_values: dict[str, Any], filer: dict[str, str], *,
                user: Optional[User], submit: bool, reason: Optional[str] = None,
                revision: Optional[int] = None, strict: bool = True) -> Outcome:
    """Validate and store one unit's form. Raises ReportRejected (422) or ReportConflict (409).

    Values not given keep what was stored. A draft in the grid (`strict=False`) is saved even
    with rule errors, so that typing is never lost; submission and every other caller refuse them.
    """
    campaign = period.campaign
    indicators = campaign.indicators
    now = clock.now()
    report = find_report(period, region)
    if revision is not None and revision != (report.revision if report else 0):
        raise ReportConflict("该报表已被他人修改，请查看最新数据后再保存", report)
    closed = is_closed(campaign, now.date()) and not (user and user.role == "city_admin")
    if closed:
        raise ReportConflict("该期次已关闭（征缴期及延长期已结束），只有市级管理员可以修改", report)

    values, errors = parse_values(indicators, raw_values)
    stored = report.values(indicators) if report else {i.key: None for i in indicators}
    merged = {**stored, **values}
    filer = {key: (filer.get(key) if filer.get(key) is not None else
                   (getattr(report, f"filer_{key}") if report else "")) or "" for key in FILER_FIELDS}
    was_submitted = report is not None and report.status == "submitted"
    submitting = submit or was_submitted
    previous = previous_values(period, [region.id]).get(region.id)
    rule_errors, warnings = check(indicators, merged, filer, submit=submitting, previous=previous,
                                  sibling_increases=sibling_increases(period, region))
    changed = report is None or merged != stored or any(
        filer[k] != getattr(report, f"filer_{k}") for k in FILER_FIELDS) or (submit and not was_submitted)
    if was_submitted and changed and not (reason or "").strip():
        rule_errors.append(Issue("reason", "修改已提交的报表须填写修改原因"))
    if errors or ((strict or submitting) and rule_errors):
        raise ReportRejected(errors + rule_errors, warnings)
    if not changed:
        return Outcome(report, warnings, changed=False)

    if report is None:
        report = Report(period=period, region=region, status="draft")
        db.session.add(report)
    report.set_values(indicators, merged)
    for key in FILER_FIELDS:
        setattr(report, f"filer_{key}", filer[key])
    report.updated_at, report.updated_by = now, user
    if submitting:
        if not was_submitted:
            report.submitted_at = now
        report.status = "submitted"
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        raise ReportConflict("该报表刚被他人修改，请查看最新数据后再保存") from None
    if submitting:
        db.session.add(Revision(report_id=report.id, number=report.revision,
                                kind="correct" if was_submitted else "submit",
                                old_values=stored,
                                new_values=merged, reason=(reason or "").strip(),
                                user_id=user.id if user else None, created_at=now))
    return Outcome(report, warnings, errors=rule_errors)


def late_status(report: Optional[Report], period: Period, now: dt.datetime) -> str:
    """on_time, late (迟报: submitted after the due day), missing (逾期未报) or pending (not yet due)."""
    if report is not None and report.status == "submitted":
        return "late" if report.submitted_at >= period.deadline else "on_time"
    return "missing" if now >= period.deadline else "pending"


def report_json(report: Optional[Report], period: Period, region: Region, now: dt.datetime) -> dict:
    indicators = period.campaign.indicators
    status = late_status(report, period, now)
    return {
        "region_code": region.code,
        "period_id": period.id,
        "status": report.status if report else "missing",
        "values": {k: v for k, v in report.values(indicators).items() if v is not None} if report else {},
        "filer": {k: (getattr(report, f"filer_{k}") if report else "") for k in FILER_FIELDS},
        "submitted_at": report.submitted_at.isoformat() if report and report.submitted_at else None,
        "late": status in ("late", "missing"),
        "revision": report.revision if report else 0,
    }


@dataclass
class FilingStatus:
    total: int
    submitted: int
    late: int
    draft: int

    @property
    def missing(self) -> int:
        return self.total - self.submitted


def filing_status(campaign: Campaign, period: Period, region: Region) -> FilingStatus:
    """How many report-level units under `region` have filed this period (one aggregate)."""
    units = descendants_at(region, campaign.report_level).subquery()
    submitted = Report.status == "submitted"
    row = db.session.execute(
        select(func.count(units.c.id),
               func.count(case((submitted, 1))),
               func.count(case((and_(submitted, Report.submitted_at >= period.deadline), 1))),
               func.count(case((Report.status == "draft", 1))))
        .select_from(units)
        .outerjoin(Report, and_(Report.region_id == units.c.id, Report.period_id == period.id))).one()
    return FilingStatus(*row)
