"""退回 and 审核: the level above a filer sends a report back or approves it; a 通报 locks what it printed.

The state lives in a Review row beside the report, never in Report.status: a returned or approved
report stays "submitted" there, so the roll-up, the tallies and every total keep counting it with its
last submitted values (DESIGN.md) until the filer resubmits through filing.save_report.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Forbidden

from reporting import access, audit, clock, versions
from reporting.departments.departments import departments_at, departments_under
from reporting.extensions import db
from reporting.filing.reviewed import status
from reporting.models import Circular, Department, Period, Region, Report, Review, ReviewAction, Revision, User
from reporting.regions.hierarchy import descendants_at

STATES = {None: "待审核", "returned": "已退回", "approved": "已审核"}


class ReviewRefused(ValueError):
    """Nothing to review (409): no submitted report, or one in a state the action does not apply to."""


class ReviewInvalid(ValueError):
    """The action is incomplete (422): a 退回 without a reason."""

    def __init__(self, message: str, field: Optional[str] = "reason"):
        self.field = field
        super().__init__(message)


class OwnFiling(Forbidden):
    """Nobody reviews their own filing (403): the reviewer wrote the report's current revision."""

    def __init__(self, name: str):
        super().__init__(f"{name}的当前版本由您本人填报或修改，不能由您本人审核或退回，请由其他审核人员处理")


def wrote_current(user: Optional[User], report) -> bool:
    """Whether `user` wrote the report's current revision (its last submitted values): the one rule
    every review path asks, so that nobody approves or returns their own filing. `report` is a Report
    or a row with its `updated_by_id` and `submitted_by_id`."""
    if user is None or report is None:
        return False
    return (report.updated_by_id or report.submitted_by_id) == user.id


def _row(report: Report) -> Review:
    review = report.review
    if review is None:
        review = Review(report=report, report_id=report.id, state=None, reason="", published_lock=False)
        db.session.add(review)
    return review


def _find(period: Period, region: Region, department: Optional[Department] = None) -> Optional[Report]:
    filer = Report.department_id == department.id if department else Report.region_id == region.id
    return db.session.scalar(select(Report).where(Report.period_id == period.id, filer))


def _check_reviewer(user: Optional[User], region: Region, department: Optional[Department] = None) -> None:
    allowed = access.can_review_department(user, department) if department else access.can_review(user, region)
    if not allowed:
        raise Forbidden("只有上一级审核单位可以退回或审核该单位的报表")


def _apply(report: Report, action: str, user: Optional[User], reason: str, now: dt.datetime) -> None:
    review = _row(report)
    if action == "return":
        review.state, review.reason, review.pending = "returned", reason, None
        # a return reopens what a 通报 locked: the correction that follows is 通报后更正
        review.published_lock = False
    else:
        review.state, review.reason = "approved", ""
    review.by_id, review.at = (user.id if user else None), now
    db.session.add(ReviewAction(report_id=report.id, action=action, reason=reason, revision=report.revision,
                                user_id=user.id if user else None, at=now))


@functools.cache
def _ensuring(dialect_name: str):
    """INSERT an empty review row (待审核) unless the report has one: two reviewers at once both
    find the row there instead of both inserting it (pk_review)."""
    statement = {"postgresql": postgresql, "sqlite": sqlite}[dialect_name].insert(Review)
    return statement.on_conflict_do_nothing(index_elements=["report_id"])


def _ensure_rows(report_ids: list[int]) -> None:
    if report_ids:
        db.session.execute(_ensuring(db.session.get_bind().dialect.name),
                           [{"report_id": i, "state": None, "reason": "", "published_lock": False}
                            for i in report_ids])


def _lock(report: Report) -> None:
    """Hold the report's review row until the commit and read its state as committed: a second
    reviewer acting at the same moment waits, then finds the first one's step done (409)."""
    _ensure_rows([report.id])
    db.session.scalar(select(Review).where(Review.report_id == report.id).with_for_update()
                      .execution_options(populate_existing=True))
    db.session.expire(report, ["review"])


def _applies(report: Optional[Report], action: str) -> bool:
    state = status(report)
    return state in ("submitted", "approved") if action == "return" else state == "submitted"


def _reason(action: str, reason: Optional[str]) -> str:
    reason = (reason or "").strip()
    if action == "return" and not reason:
        raise ReviewInvalid("退回须填写原因，告诉填报单位要改什么")
    if len(reason) > 500:
        raise ReviewInvalid("退回原因最多500字")
    return reason


def act(period: Period, region: Region, action: str, user: Optional[User],
        reason: Optional[str] = None, department: Optional[Department] = None) -> Report:
    """退回 (return) or 审核通过 (approve) one unit's report, or with `department` (sitting at `region`)
    that department's. Raises Forbidden, ReviewInvalid or ReviewRefused."""
    _check_reviewer(user, region, department)
    report = _find(period, region, department)
    name = department.name if department else region.name
    act_on(report, action, user, reason, name=f"{name}{period.label}", region=region,
           target=f"报表 {department.name if department else region.code} {period.label}")
    return report


def act_on(report: Optional[Report], action: str, user: Optional[User], reason: Optional[str], *,
           name: str, region: Optional[Region], target: str) -> None:
    """The step itself, on any report (a unit's or a department's) whose reviewer the caller has checked:
    validate, record the state and the action, audit."""
    reason = _reason(action, reason)
    if report is not None and report.status == "submitted":
        _lock(report)
    if not _applies(report, action):
        state = status(report)
        if action == "return":
            raise ReviewRefused(f"{name}尚未提交，无可退回" if state in ("missing", "draft")
                                else f"{name}的报表已退回，等待重新提交")
        raise ReviewRefused({"missing": f"{name}尚未提交，无可审核",
                             "draft": f"{name}尚未提交，无可审核",
                             "returned": f"{name}的报表已退回，等待重新提交后再审核",
                             "approved": f"{name}的报表已审核通过"}[state])
    if wrote_current(user, report):
        raise OwnFiling(name)
    _apply(report, action, user, reason, clock.now())
    db.session.flush()
    # the status board counts reviews: its pages' tags must move
    campaign = report.period.campaign
    versions.bump_at(campaign, region) if region is not None else versions.bump(campaign)
    audit.record(f"report.{action}", user, region=region, target=f"{target} 第{report.revision}版",
                 after={"review": "returned" if action == "return" else "approved",
                        **({"reason": reason} if reason else {})})


@dataclass
class BulkOutcome:
    count: int
    units: list[str]
    #: the units left as they were because the reviewer wrote their current revision: [{code, reason}]
    skipped: list[dict] = field(default_factory=list)


def act_all(period: Period, region: Region, action: str, user: Optional[User],
            reason: Optional[str] = None) -> BulkOutcome:
    """The same for every submitted report-level unit under `region` that the user reviews, in the
    caller's one transaction (a few set-based statements): an error anywhere leaves every unit as it was.
    A unit whose current revision the user wrote is skipped and named; a unit another reviewer acted
    on a moment before is read as they left it (its review row is held until the commit)."""
    reason = _reason(action, reason)
    if not access.can_review_under(user, region):
        raise Forbidden("只有上一级审核单位可以批量退回或审核")
    campaign = period.campaign
    units = descendants_at(region, campaign.report_level).with_only_columns(Region.id)
    candidates = db.session.execute(
        select(Report.id, Report.region_id, Region.township_id)
        .join(Region, Region.id == Report.region_id)
        .where(Report.period_id == period.id, Report.status == "submitted", Report.region_id.in_(units))
        .order_by(Report.id)).all()
    # who reviews a unit depends on its township only (a township filer there, or not): ask once per township
    reviews: dict[Optional[int], bool] = {}
    for row in candidates:
        if row.township_id not in reviews:
            reviews[row.township_id] = access.can_review(user, db.session.get(Region, row.region_id))
    mine = [row.id for row in candidates if reviews[row.township_id]]
    # every row there, then held in one order (report id), so that two bulk steps never deadlock
    for chunk in range(0, len(mine), 5000):
        _ensure_rows(mine[chunk:chunk + 5000])
        db.session.execute(select(Review.report_id).where(Review.report_id.in_(mine[chunk:chunk + 5000]))
                           .order_by(Review.report_id).with_for_update())
    rows = db.session.execute(
        select(Report.id, Report.region_id, Report.revision, Report.updated_by_id, Report.submitted_by_id,
               Region.code, Review.report_id, Review.state)
        .join(Region, Region.id == Report.region_id).join(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.status == "submitted", Report.region_id.in_(units))
        .order_by(Report.region_id).execution_options(populate_existing=True)).all()
    allowed = set(mine)
    applies = ("approved", None) if action == "return" else (None,)
    chosen, skipped = [], []
    for row in rows:
        if row.id not in allowed or row.state not in applies:
            continue
        if wrote_current(user, row):
            skipped.append({"code": row.code, "reason": "当前版本由您本人填报或修改，不能由您本人审核或退回"})
            continue
        chosen.append(row)
    now, user_id = clock.now(), (user.id if user else None)
    state = {"state": "returned" if action == "return" else "approved", "reason": reason, "by_id": user_id, "at": now}
    if action == "return":
        state.update(pending=None, published_lock=False)
    stored = [r.id for r in chosen]
    for chunk in range(0, len(stored), 5000):
        db.session.execute(Review.__table__.update().where(Review.report_id.in_(stored[chunk:chunk + 5000]))
                           .values(**state))
    if chosen:
        db.session.execute(ReviewAction.__table__.insert(), [
            {"report_id": r.id, "action": action, "reason": reason, "revision": r.revision, "user_id": user_id,
             "at": now} for r in chosen])
    db.session.expire_all()
    done = [r.code for r in chosen]
    if done:
        versions.bump_at(campaign, region)
        audit.record(f"reports.{action}", user, region=region,
                     target=f"报表 {region.code} {period.label} 批量{'退回' if action == 'return' else '审核'}"
                            f" {len(done)}个单位",
                     after={"units": done, **({"reason": reason} if reason else {}),
                            **({"skipped": [s["code"] for s in skipped]} if skipped else {})})
    return BulkOutcome(len(done), done, skipped)


# --- publication ---------------------------------------------------------------------------

def publish(circular: Circular, user: Optional[User]) -> int:
    """Lock the reports of the circular's period under its region submitted at this moment."""
    region, period = circular.region, circular.period
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    report_ids = list(db.session.scalars(select(Report.id).where(
        Report.period_id == period.id, Report.status == "submitted", Report.region_id.in_(units))))
    # the departments sitting under the region: their figures are printed in its 部门报送情况
    report_ids += db.session.scalars(select(Report.id).where(
        Report.period_id == period.id, Report.status == "submitted",
        Report.department_id.in_(departments_under(period, region))))
    existing = set()
    for chunk in range(0, len(report_ids), 5000):
        part = report_ids[chunk:chunk + 5000]
        existing.update(db.session.scalars(select(Review.report_id).where(Review.report_id.in_(part))))
        db.session.execute(Review.__table__.update().where(Review.report_id.in_(part))
                           .values(published_id=circular.id, published_lock=True))
    fresh = [{"report_id": i, "state": None, "reason": "", "published_id": circular.id, "published_lock": True}
             for i in report_ids if i not in existing]
    if fresh:
        db.session.execute(Review.__table__.insert(), fresh)
    db.session.expire_all()
    versions.bump_all(period.campaign)  # every board under the region lists what changes after it
    if report_ids:
        audit.record("reports.publish", user, region=region,
                     target=f"通报 {circular.doc_number} 锁定{period.label}已报送的{len(report_ids):,}份报表")
    return len(report_ids)


@dataclass
class AfterPublication:
    """What changed under a region since its last issued 通报 of a period."""
    circular: Optional[Circular]
    #: region ids of the report units corrected after being printed (通报后更正)
    corrected: list[Region]
    #: region ids of the report units that filed only after it (通报后补报)
    late_filed: list[Region]
    #: the departments (条线) under its region corrected after it, and those that filed only after it
    departments_corrected: list[Department] = field(default_factory=list)
    departments_late_filed: list[Department] = field(default_factory=list)


def last_issued(period: Period, region: Region) -> Optional[Circular]:
    return db.session.scalar(select(Circular).where(
        Circular.period_id == period.id, Circular.region_id == region.id, Circular.status == "issued")
        .order_by(Circular.issued_at.desc()).limit(1))


def after_publication(circular: Optional[Circular]) -> AfterPublication:
    if circular is None:
        return AfterPublication(None, [], [])
    period, region = circular.period, circular.region
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    corrected, late_filed = _changed_after(circular, Region, Report.region_id, Report.region_id.in_(units),
                                           (Region.code,))
    departments = _changed_after(circular, Department, Report.department_id,
                                 Department.id.in_(departments_under(period, region)),
                                 (Department.position, Department.id))
    return AfterPublication(circular, corrected, late_filed, *departments)


def _changed_after(circular: Circular, filer, column, scope, order) -> tuple[list, list]:
    """The filers (units of the tree, or departments) whose reports printed by `circular` were corrected
    after it, and those that filed the period only after it."""
    period = circular.period
    corrected = db.session.scalars(
        select(filer).join(Report, column == filer.id)
        .join(Review, Review.report_id == Report.id)
        .where(Review.published_id == circular.id, Report.period_id == period.id,
               select(Revision.id).where(Revision.report_id == Report.id,
                                         Revision.created_at > circular.issued_at).exists())
        .order_by(*order)).all()
    late_filed = db.session.scalars(
        select(filer).join(Report, column == filer.id)
        .outerjoin(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.status == "submitted", scope,
               Report.submitted_at >= circular.issued_at,
               or_(Review.published_id.is_(None), Review.published_id != circular.id))
        .order_by(*order)).all()
    return list(corrected), list(late_filed)


def publication_lines(period: Period, region: Region) -> list[str]:
    """The sentences the next 通报 prints about changes after the last one of `region`."""
    campaign = period.campaign
    previous = db.session.scalar(select(Circular).where(
        Circular.campaign_id == campaign.id, Circular.region_id == region.id, Circular.status == "issued")
        .order_by(Circular.issued_at.desc()).limit(1))
    changes = after_publication(previous)
    corrected = _named(changes.corrected, changes.departments_corrected, region)
    late_filed = _named(changes.late_filed, changes.departments_late_filed, region)
    if previous is None or not (corrected or late_filed):
        return []
    lines = []
    where = f"第{previous.issue_no}期通报后，"
    if corrected:
        lines.append(f"{where}{corrected}更正了已通报的数据，本期通报以更正后的数据为准。")
        where = ""
    if late_filed:
        lines.append(f"{where or f'第{previous.issue_no}期通报后，'}{late_filed}补报了"
                     f"{previous.period.label}的数据。")
    return lines


def _named(units: list[Region], departments: list[Department], region: Region) -> str:
    """The units grouped by the child of `region` they lie in, then the departments by name."""
    return "、".join(([_grouped(units, region)] if units else []) + [d.name for d in departments])


def _grouped(units: list[Region], region: Region) -> str:
    """Name the units by the child of `region` they lie in: 恩平市3个村（社区）、台山市1个村（社区）."""
    from reporting.models import child_level
    level = child_level(region.level)
    if level is None or units[0].level == level:
        return "、".join(u.name for u in units[:10]) + (f"等{len(units)}个单位" if len(units) > 10 else "")
    column = "id" if level == "village" else f"{level}_id"
    counts: dict[int, int] = {}
    for unit in units:
        counts[getattr(unit, column)] = counts.get(getattr(unit, column), 0) + 1
    names = dict(db.session.execute(select(Region.id, Region.name).where(Region.id.in_(counts))).all())
    from reporting.models import LEVEL_NAMES
    word = LEVEL_NAMES[units[0].level]
    return "、".join(f"{names[i]}{n}个{word}" for i, n in sorted(counts.items(), key=lambda kv: names[kv[0]]))


# --- what a reviewer sees ------------------------------------------------------------------

@dataclass
class ReviewCounts:
    """How the submitted reports under a unit stand in review."""
    pending: int = 0
    returned: int = 0
    approved: int = 0
    #: 通报后更正 and 通报后补报 since the last issued 通报 of the period
    corrected: int = 0
    late_filed: int = 0


def review_counts(period: Period, region: Region, level: Optional[str] = None) -> dict[int, ReviewCounts]:
    """待审核 / 已退回 / 已审核 per child of `region` (or per unit at `level`): one GROUP BY."""
    from reporting.models import child_level
    campaign = period.campaign
    level = level or child_level(region.level) or region.level
    group = (Region.id if level == "village" else getattr(Region, f"{level}_id")).label("unit_id")
    scope = (Region.id if region.level == "village" else getattr(Region, f"{region.level}_id")) == region.id
    query = (select(group,
                    func.count(Report.id).filter(Review.state.is_(None)),
                    func.count(Report.id).filter(Review.state == "returned"),
                    func.count(Report.id).filter(Review.state == "approved"))
             .select_from(Report).join(Region, Region.id == Report.region_id)
             .outerjoin(Review, Review.report_id == Report.id)
             .where(Report.period_id == period.id, Report.status == "submitted",
                    Region.level == campaign.report_level, scope)
             .group_by(group))
    return {row[0]: ReviewCounts(row[1], row[2], row[3]) for row in db.session.execute(query)}


@dataclass
class UnitReview:
    """One report-level unit on the review page."""
    region: Region
    report: Report
    state: str
    #: the last resubmission after a return: its revision holds the diff against what was returned
    resubmission: Optional[Revision]
    last_return: Optional[ReviewAction]


def units_to_review(period: Period, region: Region, limit: int = 500) -> list[UnitReview]:
    """The submitted report-level units under `region`, 待审核 first, with what changed since a return."""
    campaign = period.campaign
    units = descendants_at(region, campaign.report_level).with_only_columns(Region.id)
    reports = db.session.scalars(
        select(Report).outerjoin(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.status == "submitted", Report.region_id.in_(units))
        .order_by(Review.state.is_not(None), Report.region_id).limit(limit)
        .options(selectinload(Report.region), selectinload(Report.review))).all()
    returns, resubmissions = _since_returns([r.id for r in reports])
    return [UnitReview(r.region, r, status(r), resubmissions.get(r.id), returns.get(r.id)) for r in reports]


def _since_returns(ids: list[int]) -> tuple[dict[int, ReviewAction], dict[int, Revision]]:
    """report id -> its last 退回, and -> the last correction after it (its revision holds the diff)."""
    returns: dict[int, ReviewAction] = {}
    for action in db.session.scalars(select(ReviewAction).where(
            ReviewAction.report_id.in_(ids), ReviewAction.action == "return").order_by(ReviewAction.at)):
        returns[action.report_id] = action
    resubmissions: dict[int, Revision] = {}
    for revision in db.session.scalars(select(Revision).where(Revision.report_id.in_(ids), Revision.kind == "correct")
                                       .order_by(Revision.created_at, Revision.id)):
        back = returns.get(revision.report_id)
        if back is not None and revision.created_at >= back.at:
            resubmissions[revision.report_id] = revision
    return returns, resubmissions


@dataclass
class DepartmentReview:
    """One department sitting at the reviewed region, with its report of the period (if any)."""
    department: Department
    report: Optional[Report]
    state: str
    last_return: Optional[ReviewAction]
    resubmission: Optional[Revision] = None


def departments_to_review(period: Period, region: Region) -> list[DepartmentReview]:
    """The departments sitting at `region`, each with its report and review state: two queries."""
    departments = departments_at(period.campaign, region)
    reports = {r.department_id: r for r in db.session.scalars(
        select(Report).where(Report.period_id == period.id, Report.department_id.in_([d.id for d in departments]))
        .options(selectinload(Report.review)))}
    returns, resubmissions = _since_returns([r.id for r in reports.values()])
    rows = []
    for department in departments:
        report = reports.get(department.id)
        rows.append(DepartmentReview(department, report, status(report), returns.get(report.id) if report else None,
                                     resubmissions.get(report.id) if report else None))
    return rows


def returned_for(user: User, limit: int = 50) -> list[tuple[Report, Review]]:
    """The returned reports under the user's region, newest return first: the filer's to-do."""
    top = user.region
    scope = (Region.id if top.level == "village" else getattr(Region, f"{top.level}_id")) == top.id
    rows = db.session.execute(
        select(Report, Review).join(Review, Review.report_id == Report.id)
        .join(Region, Region.id == Report.region_id)
        .where(Review.state == "returned", scope).order_by(Review.at.desc()).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def departments_pending(period: Period, region: Region) -> list[tuple[Region, int]]:
    """Per region where departments under `region` sit: how many of their submitted reports await review."""
    rows = db.session.execute(
        select(Department.region_id, func.count(Report.id)).join(Report, Report.department_id == Department.id)
        .outerjoin(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.status == "submitted", Review.state.is_(None),
               Department.id.in_(departments_under(period, region)))
        .group_by(Department.region_id)).all()
    places = {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_([row[0] for row in rows])))}
    return sorted(((places[row[0]], row[1]) for row in rows), key=lambda pair: pair[0].code)


def returned_for_department(department: Department, limit: int = 20) -> list[tuple[Report, Review]]:
    """The department's returned reports, newest return first: its filer's to-do."""
    rows = db.session.execute(
        select(Report, Review).join(Review, Review.report_id == Report.id)
        .where(Report.department_id == department.id, Review.state == "returned")
        .order_by(Review.at.desc()).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]
