"""Filing a unit's form for a period: drafts, submission, late marks, corrections and conflicts."""
from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Optional

from sqlalchemy import Row, and_, bindparam, case, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.exc import StaleDataError

from reporting import audit, clock, versions
from reporting.bulk import checks_beside, collector_paused, insert_values, update_values
from reporting.extensions import db
from reporting.filing import reviewed
from reporting.indicators import RATE_NUMERATOR, fields
from reporting.models import Campaign, Department, Period, Region, Report, Revision, User
from reporting.progress.rollup import FILED, Totals
from reporting.progress.tally import Changes, neighbours, priors
from reporting.regions.hierarchy import descendants_at
from reporting.tables import ImportRejected, RowIssue, picker
from reporting.validation import FILER_FIELDS, Issue, check, jump_message, parse_values, reason_errors, sibling_outlier


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


CLOSED_MESSAGE = "该期次已关闭（征缴期及延长期已结束），只有市级管理员可以修改"


def closed_to(user: Optional[User], campaign: Campaign, today: dt.date) -> bool:
    """Whether `user` may no longer write the campaign's reports: once it has closed, only a city admin
    corrects them. Every write path and every form's read-only state ask this."""
    return is_closed(campaign, today) and not (user is not None and user.role == "city_admin")


def is_report_unit(campaign: Campaign, region: Region) -> bool:
    return region.level == campaign.report_level and campaign.root.contains(region)


def find_report(period: Period, region: Region, department: Optional[Department] = None) -> Optional[Report]:
    """The report of `region` for `period`, or of `department` when one is given, with its review."""
    return db.session.scalar(_find_report(department is not None), {
        "period_id": period.id, "filer_id": department.id if department else region.id})


@functools.cache
def _find_report(of_department: bool):
    filer = Report.department_id if of_department else Report.region_id
    return (select(Report).options(joinedload(Report.review))
            .where(Report.period_id == bindparam("period_id"), filer == bindparam("filer_id")))


def previous_period(period: Period) -> Optional[Period]:
    """The period before `period`, from its campaign's periods (read once per session)."""
    return next((p for p in period.campaign.periods if p.seq == period.seq - 1), None)


class Neighbourhood(NamedTuple):
    """What one unit's save compares its figures with, read in one statement over its parent's units."""
    #: the unit's submitted values of the period before (None when it has none)
    previous: Optional[dict]
    #: what each sibling gained in enrolled since then, both periods submitted
    increases: list[int]
    #: the other units' figures: this period's where they have a report, else the last period's
    siblings: list[dict[str, Optional[int]]]
    #: the id of the unit's first later period it has submitted (a 补报 moves that one's change), or None
    later: Optional[int] = None


def neighbourhood(period: Period, region: Region, indicators) -> Neighbourhood:
    """The reports of `region` and of the units under its parent, for `period` and the one before,
    and the unit's own submitted reports of later periods. The periods are told apart by their
    number, in the statement itself: the campaign's periods need not be read (a row save runs this
    on every keystroke)."""
    later: Optional[int] = None
    later_seq = 0
    now: dict[int, tuple] = {}
    then: dict[int, tuple] = {}
    statement = _neighbourhood(tuple(i.slot for i in indicators), region.parent_id is not None)
    for region_id, period_id, seq, status, *values in db.session.execute(statement, {
            "campaign_id": period.campaign_id, "seq": period.seq, "before_seq": period.seq - 1,
            "parent_id": region.parent_id, "region_id": region.id}):
        if seq > period.seq:  # the unit's own, submitted: the statement reads no other
            if later is None or seq < later_seq:
                later, later_seq = period_id, seq
            continue
        (now if seq == period.seq else then)[region_id] = (status, values)
    keys = [i.key for i in indicators]
    enrolled = keys.index(RATE_NUMERATOR)
    previous = None
    if region.id in then and then[region.id][0] == "submitted":
        previous = dict(zip(keys, then[region.id][1]))
    increases, siblings = [], []
    for unit in now.keys() | then.keys():
        if unit == region.id:
            continue
        current, last = now.get(unit), then.get(unit)
        siblings.append(dict(zip(keys, (current or last)[1])))
        if (current and last and current[0] == last[0] == "submitted"
                and current[1][enrolled] is not None and last[1][enrolled] is not None):
            increases.append(current[1][enrolled] - last[1][enrolled])
    return Neighbourhood(previous, increases, siblings, later)


def department_statuses(department: Department, periods: list[Period]) -> dict[int, str]:
    """period id -> the status of the department's report of it (draft, submitted), for `periods`;
    a period without a report is absent."""
    if not periods:
        return {}
    return dict(db.session.execute(select(Report.period_id, Report.status).where(
        Report.department_id == department.id, Report.period_id.in_([p.id for p in periods]))).all())


# --- one judgement of a row, for the form and for the imports ------------------------------

#: a submitted report's figures or signature changed without a reason, on every path
REASON_REQUIRED = "修改已提交的报表须填写修改原因"
#: a returned report's draft in an import, which cannot keep it aside as the form does
RETURNED_NOT_HELD = "该单位的报表已退回，修改后请直接提交"


class Verdict(NamedTuple):
    """What writing one unit's row does (see `judge`)."""
    #: write, hold (a returned report's draft, kept aside from its counted values), unchanged or refused
    action: str
    #: the status the report is written with
    status: str = ""
    #: the audit kind: report.save, report.submit, report.correct or report.resubmit
    kind: str = ""
    #: the reason a correction records
    reason: str = ""
    #: why the row is refused (action "refused"), or that its correction needs a reason (REASON_REQUIRED)
    message: str = ""


def signature(given: dict, default: Optional[dict], held: Optional[dict], stored: Optional[dict],
              fallback: dict) -> dict[str, str]:
    """The filer fields a row is written with: each as given (None: not given), else the batch's
    default (an upload's footer), else a returned report's held edit, else what was stored, else
    `fallback` (the information system for an import without a footer, else empty)."""
    return {k: given[k] if given.get(k) is not None else
            (default or {}).get(k) or (held or {}).get(k) or (stored or {}).get(k) or fallback[k]
            for k in FILER_FIELDS}


def judge(exists: bool, was_submitted: bool, state: Optional[str], locked: bool, changed: bool, *,
          submit: bool, reason: Optional[str], can_hold: bool = True) -> Verdict:
    """The one judgement of a unit's row on every write path (the form, the grid, the API, uploads
    and imports): whether it may be written, with what status, as which kind of change, and whether
    it lacks its reason. `changed` is `is_change`'s answer; `state` and `locked` are its review's.

    - A locked report (approved, or printed in an issued 通报) refuses a change; left as it is, it passes.
    - A returned report's draft is kept aside until it is resubmitted (`can_hold`: the form can,
      an import cannot and refuses a change); its resubmission is a change, with a default reason.
    - A change to a submitted report is a correction, and needs a reason.
    """
    reason = (reason or "").strip()
    if locked and changed:
        return Verdict("refused", message=reviewed.locked_because(state))
    if state == "returned":
        if submit:
            return Verdict("write", "submitted", "report.resubmit", reason or reviewed.RESUBMIT_REASON)
        if can_hold:
            return Verdict("hold", "submitted", "report.save", reason)
        return Verdict("refused", message=RETURNED_NOT_HELD) if changed else Verdict("unchanged")
    if not changed:
        return Verdict("unchanged")
    if was_submitted:
        return Verdict("write", "submitted", "report.correct", reason, "" if reason else REASON_REQUIRED)
    return Verdict("write", "submitted" if submit else "draft", "report.submit" if submit else "report.save")


def is_change(exists: bool, was_submitted: bool, stored: dict, merged: dict, resigned: bool, submit: bool) -> bool:
    """Whether a row changes its unit's report: a new report, other figures, a filer field given
    that differs from the stored one, or the first submission of a draft."""
    return not exists or merged != stored or resigned or (submit and not was_submitted)


def save_report(period: Period, region: Region, raw_values: dict[str, Any], filer: dict[str, str], *,
                user: Optional[User], submit: bool, reason: Optional[str] = None,
                revision: Optional[int] = None, strict: bool = True,
                department: Optional[Department] = None) -> Outcome:
    """Validate and store one unit's form. Raises ReportRejected (422) or ReportConflict (409).

    Values not given keep what was stored. A draft in the grid (`strict=False`) is saved even
    with rule errors, so that typing is never lost; submission and every other caller refuse them.
    With `department` (sitting at `region`), the form is the department's own indicators, and
    its figures go into no tally: a department's groups overlap the units' counts.
    What the row may do is `judge`'s, as for an import's rows.
    """
    campaign = period.campaign
    indicators = department.indicators() if department else campaign.indicators
    now = clock.now()
    report = find_report(period, region, department)
    if revision is not None and revision != (report.revision if report else 0):
        # the same person in another tab (or window) is no stranger: say where the change came from
        same = report is not None and user is not None and report.updated_by_id == user.id
        raise ReportConflict(f"该报表{'已在其他窗口修改' if same else '已被他人修改'}，请查看最新数据后再保存", report)
    if closed_to(user, campaign, now.date()):
        raise ReportConflict(CLOSED_MESSAGE, report)

    values, errors = parse_values(indicators, raw_values)
    errors += reason_errors(reason)
    exists = report is not None
    stored = report.values(indicators) if exists else {i.key: None for i in indicators}
    stored_filer = {k: getattr(report, f"filer_{k}") for k in FILER_FIELDS} if exists else None
    was_submitted = exists and report.status == "submitted"
    state = report.review.state if exists and report.review is not None else None
    # a returned report is edited apart from the values it still counts with, until resubmitted
    held = (report.review.pending or {}) if state == "returned" else {}
    merged = {**stored, **(held.get("values") or {}), **values}
    given = {k: filer.get(k) for k in FILER_FIELDS}
    filer = signature(given, None, held.get("filer"), stored_filer, dict.fromkeys(FILER_FIELDS, ""))
    resigned = exists and any(v is not None and v != stored_filer[k] for k, v in given.items())
    verdict = judge(exists, was_submitted, state, reviewed.is_locked(report),
                    is_change(exists, was_submitted, stored, merged, resigned, submit),
                    submit=submit, reason=reason)
    if verdict.action == "refused":
        raise ReportConflict(verdict.message, report)
    submitting = verdict.status == "submitted" and verdict.action == "write"
    if department:
        before = previous_period(period)
        last = find_report(before, region, department) if before else None
        previous = last.values(indicators) if last and last.status == "submitted" else None
        increases, siblings, later = [], [], None
    else:
        previous, increases, siblings, later = neighbourhood(period, region, indicators)
    rule_errors, warnings = check(indicators, merged, filer, submit=submitting or was_submitted,
                                  previous=previous, sibling_increases=increases, sibling_values=siblings)
    if verdict.action == "hold":
        # a draft of the resubmission: kept aside, checked like a draft, counted nowhere yet
        if errors or (strict and rule_errors):
            raise ReportRejected(errors + rule_errors, warnings)
        reviewed.hold(report, merged, filer)
        return Outcome(report, warnings, errors=rule_errors)
    if verdict.message:
        rule_errors.append(Issue("reason", verdict.message))
    if errors or ((strict or submitting or was_submitted) and rule_errors):
        raise ReportRejected(errors + rule_errors, warnings)
    if verdict.action == "unchanged":
        return Outcome(report, warnings, changed=False)

    if report is None:
        report = (Report(period=period, department=department, status="draft") if department else
                  Report(period=period, region=region, status="draft"))
        db.session.add(report)
    report.set_values(indicators, merged)
    for key in FILER_FIELDS:
        setattr(report, f"filer_{key}", filer[key])
    report.updated_at, report.updated_by = now, user
    if submitting and not was_submitted:
        report.submitted_at, report.submitted_by = now, user
    report.status = verdict.status
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        raise ReportConflict("该报表刚被他人修改，请查看最新数据后再保存") from None
    if submitting and not department:
        tallies = Changes(period, indicators)
        if was_submitted:
            tallies.corrected(region.parent_id, stored, merged, later)
        else:
            prior = previous if previous is not None else priors(period, [region.id], indicators).get(region.id)
            tallies.submitted(region.parent_id, merged, late=period.is_late(report.submitted_at),
                              prior=prior, later=later)
        tallies.apply()
    audit.record(verdict.kind, user, region=region,
                 target=f"报表 {department.name if department else region.code} {period.label} 第{report.revision}版",
                 before={**stored, **({"status": "submitted"} if was_submitted else {})} if exists else None,
                 after={**merged, "status": report.status, **({"reason": verdict.reason} if verdict.reason else {})})
    if department:
        # its figures are in no tally, but the dashboard and the progress API show them
        versions.bump_at(campaign, region)
    if verdict.kind == "report.resubmit":
        reviewed.resubmitted([report.id])
        db.session.refresh(report.review)
    if was_submitted:
        # a first submission has no revision row: the report holds it (see `history`), as after an import
        db.session.execute(_ADD_REVISION, dict(
            report_id=report.id, number=report.revision, kind="correct", old_values=stored, new_values=merged,
            reason=verdict.reason, user_id=user.id if user else None, created_at=now))
    return Outcome(report, warnings, errors=rule_errors)


#: a correction's revision row, written as it is (nothing reads it back in the request)
_ADD_REVISION = Revision.__table__.insert()


@dataclass
class FirstSubmission:
    """A first submission that has no revision row (a bulk import's), as the history shows it."""
    report_id: int
    number: int
    created_at: dt.datetime
    user: Optional[User]
    new_values: dict
    kind: str = "submit"
    reason: str = ""
    old_values: dict = field(default_factory=dict)


def history(period: Period, region_ids, limit: int = 500, department: Optional[Department] = None) -> list:
    """The revisions of the period's reports of `region_ids` (a list or a select of ids), or of
    `department`'s, newest first: the revision rows, and each first submission that has none (no
    path writes one), made from its report: when (submitted_at) and by whom (submitted_by) it was
    submitted, and its values then, which are the report's own until a correction's revision keeps
    them as its old values."""
    in_grid = and_(Report.period_id == period.id, Report.department_id == department.id if department
                   else Report.region_id.in_(region_ids))
    rows = db.session.scalars(
        select(Revision).join(Report, Report.id == Revision.report_id).where(in_grid)
        .order_by(Revision.created_at.desc(), Revision.id.desc()).limit(limit)).all()
    has_own = select(Revision.id).where(Revision.report_id == Report.id, Revision.kind == "submit").exists()
    firsts = db.session.scalars(
        select(Report).where(in_grid, Report.status == "submitted", ~has_own)
        .order_by(Report.submitted_at.desc(), Report.id.desc()).limit(limit)).all()
    if firsts:
        indicators = department.indicators() if department else period.campaign.indicators
        corrections: dict[int, Revision] = {}
        for revision in db.session.scalars(
                select(Revision).where(Revision.report_id.in_([r.id for r in firsts]), Revision.kind == "correct")
                .order_by(Revision.number.desc())):
            corrections[revision.report_id] = revision  # the lowest number stays
        for report in firsts:
            later = corrections.get(report.id)
            values = later.old_values if later else report.values(indicators)
            rows.append(FirstSubmission(report.id, later.number - 1 if later else report.revision,
                                        report.submitted_at, report.submitted_by, values))
    # newest first; in a moment's ties the revision rows by id as before, then the first submissions
    # in the order their rows would have had (the reports')
    rows.sort(key=lambda r: (r.created_at, 0, r.report_id) if isinstance(r, FirstSubmission)
              else (r.created_at, 1, r.id), reverse=True)
    return rows[:limit]


def late_status(report: Optional[Report], period: Period, now: dt.datetime) -> str:
    """on_time, late (迟报: submitted after the due day), missing (逾期未报) or pending (not yet due)."""
    if report is not None and report.status == "submitted":
        return "late" if period.is_late(report.submitted_at) else "on_time"
    return "missing" if period.is_overdue(now) else "pending"


def report_json(report: Optional[Report], period: Period, region: Region, now: dt.datetime) -> dict:
    indicators = period.campaign.indicators
    status = late_status(report, period, now)
    return {
        "region_code": region.code,
        "period_id": period.id,
        "status": reviewed.status(report),
        "values": {k: v for k, v in report.values(indicators).items() if v is not None} if report else {},
        "filer": {k: (getattr(report, f"filer_{k}") if report else "") for k in FILER_FIELDS},
        "submitted_at": report.submitted_at.isoformat() if report and report.submitted_at else None,
        "late": status in ("late", "missing"),
        "revision": report.revision if report else 0,
        "review": reviewed.review_json(report),
        "locked": reviewed.is_locked(report),
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


def filing_status(period: Period, region: Region) -> FilingStatus:
    """How many report-level units under `region` have filed this period."""
    return filing_totals(period, region)[2]


def filing_statuses(campaign: Campaign, periods: list[Period], region: Region) -> dict[int, FilingStatus]:
    """filing_status of several periods at once (the home page's to-do): period id -> status, from
    one aggregate of the region's reports of those periods, with the count of its units beside."""
    if not periods:
        return {}
    submitted = Report.status == "submitted"
    inside = Region.id == region.id if region.level == "village" else \
        getattr(Region, f"{region.level}_id") == region.id
    units = select(func.count(Region.id)).where(Region.level == campaign.report_level, inside)
    late = case(*[(and_(Report.period_id == p.id, submitted, Report.submitted_at >= p.deadline), 1)
                  for p in periods])
    rows = db.session.execute(
        select(Report.period_id, units.scalar_subquery(), func.count(case((submitted, 1))), func.count(late),
               func.count(case((Report.status == "draft", 1))))
        .join(Region, Region.id == Report.region_id)
        .where(Report.period_id.in_([p.id for p in periods]), Region.level == campaign.report_level, inside)
        .group_by(Report.period_id)).all()
    counts = {row[0]: FilingStatus(*row[1:]) for row in rows}
    total = rows[0][1] if rows else db.session.scalar(units)
    return {p.id: counts.get(p.id) or FilingStatus(total, 0, 0, 0) for p in periods}


@functools.cache
def _neighbourhood(slots: tuple[int, ...], has_parent: bool):
    """neighbourhood's statement, built once for each form (a row save runs it on every keystroke)."""
    under = Region.parent_id == bindparam("parent_id") if has_parent else Region.id == bindparam("region_id")
    own_later = and_(Report.region_id == bindparam("region_id"), Report.status == "submitted",
                     Period.seq > bindparam("seq"))
    return (select(Report.region_id, Report.period_id, Period.seq, Report.status,
                   *[getattr(Report, f"v{slot}") for slot in slots])
            .join(Region, Region.id == Report.region_id)
            .join(Period, Period.id == Report.period_id)
            .where(under, Period.campaign_id == bindparam("campaign_id"),
                   or_(Period.seq.in_([bindparam("seq"), bindparam("before_seq")]), own_later)))


def filing_totals(period: Period, region: Region, group: Optional[Region] = None
                  ) -> tuple[Optional[Totals], Totals, FilingStatus]:
    """What a row save's answer shows, in one aggregate over `region`'s report-level units: the
    filed (draft or submitted) sums of `group` (its township, or None) and of `region`, and the
    filing status of `region`."""
    indicators = period.campaign.indicators
    statement = _filing_totals(period.campaign.report_level, region.level, group.level if group else None,
                               tuple(i.slot for i in indicators))
    row = db.session.execute(statement, {"period_id": period.id, "deadline": period.deadline,
                                         "region_id": region.id, "group_id": group.id if group else 0}).one()
    n = len(indicators)

    def totals(reports: int, sums) -> Totals:
        return Totals({i.key: value for i, value in zip(indicators, sums) if value is not None}, reports)

    subtotal = totals(row[5], row[6 + n:]) if group is not None else None
    return subtotal, totals(row[4], row[6:6 + n]), FilingStatus(*row[:4])


@functools.cache
def _filing_totals(report_level: str, region_level: str, group_level: Optional[str], slots: tuple[int, ...]):
    """filing_totals' statement, built once for each shape (a row save runs it on every keystroke)."""
    def under(level: str, name: str):
        column = Region.id if level == "village" else getattr(Region, f"{level}_id")
        return column == bindparam(name)
    submitted = Report.status == "submitted"
    filed = Report.status.in_(FILED)
    in_group = under(group_level, "group_id") if group_level else false()
    values = [getattr(Report, f"v{slot}") for slot in slots]
    return (select(func.count(Region.id),
                   func.count(case((submitted, 1))),
                   func.count(case((and_(submitted, Report.submitted_at >= bindparam("deadline")), 1))),
                   func.count(case((Report.status == "draft", 1))),
                   func.count(case((filed, 1))),
                   func.count(case((and_(filed, in_group), 1))),
                   *[func.sum(case((filed, value))) for value in values],
                   *[func.sum(case((and_(filed, in_group), value))) for value in values])
            .select_from(Region)
            .outerjoin(Report, and_(Report.region_id == Region.id, Report.period_id == bindparam("period_id")))
            .where(Region.level == report_level, under(region_level, "region_id")))


# --- bulk import: the information system's export, or an uploaded workbook -----------------

@dataclass
class ImportOutcome:
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: of the written rows: reports submitted before and corrected now, first submissions, new drafts
    corrected: int = 0
    submitted: int = 0
    new_drafts: int = 0
    warnings: list[RowIssue] = field(default_factory=list)
    #: False when validation passed but nothing was written (a dry run, or warnings held it)
    written: bool = False


#: who signs a report that came from the information system rather than the form
SYSTEM_FILER = {"name": "信息系统导入", "phone": "", "head": ""}
class PlannedRow(NamedTuple):
    """One validated row of a bulk import, and what writing it will change."""
    region_id: int
    parent_id: Optional[int]
    code: str
    line: Optional[int]
    #: the stored report as read (see `_stored_reports`), or None
    old: Optional[Row]
    stored: dict[str, Optional[int]]
    merged: dict[str, Optional[int]]
    filer: dict[str, str]
    was_submitted: bool
    changed: bool
    #: what `judge` said: the status the row is written with, and the reason its correction records
    status: str = ""
    reason: str = ""


#: from this many rows on, an import on PostgreSQL validates its first third, writes it, and validates
#: the rest while the database checks that third's foreign keys (a COPY's costliest step, at its
#: end): PostgreSQL checks a row in about twice the time Python validates one, so the two take about
#: as long. The tallies are then worked out while the database checks the rest.
SPLIT_FROM = 20_000


@dataclass
class ImportScope:
    """What an import reads before it validates: the units it may write, and their reports."""
    #: unit code -> (region id, parent id), for the report-level units inside the scope
    units: dict[str, tuple[int, Optional[int]]]
    #: codes of the rows that lie inside the campaign but outside the scope
    forbidden: set[str]
    #: region id -> the unit's stored report of the period
    reports: dict[int, Row]
    #: region id -> the values the unit submitted for the period before, in the indicators' order
    previous: dict[int, tuple]


@collector_paused()
def import_reports(period: Period, rows: list[tuple[int, str, dict, dict]], *, submit: bool,
                   user: Optional[User] = None, reason: Optional[str] = None,
                   default_filer: Optional[dict] = None, require_signature: Optional[bool] = None,
                   dry_run: bool = False,
                   hold_on_warnings: bool = False,
                   scope: Optional[Region] = None, source: Optional[dict] = None) -> ImportOutcome:
    """Validate every row with the form's rules, then write them all in batched statements, or none.
    (A province's file on PostgreSQL is written in two parts: see SPLIT_FROM.)

    `rows` are (line, unit code, raw values by key, filer fields). The filer of a row is, in order:
    its own fields, `default_filer` (a form's footer, which then must be complete unless
    `require_signature` is False), what was stored,
    and last the information system. `dry_run` validates without writing; `hold_on_warnings`
    writes only when there is no warning (the form's "确认无误" step). Only units inside
    `scope` (by default the user's region, or the campaign's root) are read and may be written.
    `source` names the file the rows came from for the audit entry: {"file": name, "sha256": digest}
    (without it, the digest is taken of the rows themselves).
    """
    campaign = period.campaign
    indicators = fields(campaign.indicators)
    now = clock.now()
    if closed_to(user, campaign, now.date()):
        raise ImportRejected([RowIssue(None, "", None, CLOSED_MESSAGE)])
    root = campaign.root
    scope = scope or (user.region if user is not None and root.contains(user.region) else root)
    read = _read_scope(period, scope, {code for _, code, _, _ in rows})
    states = reviewed.states_in(period, descendants_at(scope, campaign.report_level).with_only_columns(Region.id))
    keys = [i.key for i in indicators]
    previous = {rid: dict(zip(keys, values)) for rid, values in read.previous.items()}
    plan = Plan(indicators, read, previous, submit=submit, reason=reason, default_filer=default_filer,
                require_signature=default_filer is not None if require_signature is None else require_signature,
                states=states)
    # a province's file on PostgreSQL: two thirds validated while the database checks the first
    split = len(rows) >= SPLIT_FROM and not (dry_run or hold_on_warnings) and checks_beside()
    parts = [rows[:len(rows) // 3], rows[len(rows) // 3:]] if split else [rows]
    plan.add(parts[0])
    if plan.errors:
        for part in parts[1:]:
            plan.add(part)
        raise ImportRejected(plan.errors)
    warnings = plan.warnings

    def judge() -> None:
        """The warnings that compare the rows with each other (jumps, outliers among siblings)."""
        warnings.extend(_jump_warnings(plan.rows, previous))
        warnings.extend(_sibling_warnings(indicators, plan.rows, read))
    outcome = ImportOutcome(loaded=len(plan.rows), warnings=warnings)
    if dry_run or hold_on_warnings:  # every warning known before anything is written
        judge()
        if dry_run or warnings:
            return outcome
    # an error in the second part undoes the first's rows, not the caller's transaction
    with db.session.begin_nested() if len(parts) > 1 else contextlib.nullcontext():
        _write(period, indicators, plan, parts[1:], outcome, submit=submit, user=user, reason=reason, now=now,
               previous=previous, source=source or {"sha256": rows_digest(rows)},
               # otherwise worked out beside the write, before the audit entry counts them
               judge=None if dry_run or hold_on_warnings else judge)
    reviewed.resubmitted([row.old.id for row in plan.rows if row.changed and row.old is not None
                        and states.get(row.old.id, (None, False))[0] == "returned"])
    return outcome


def rows_digest(rows: list[tuple[int, str, dict, dict]]) -> str:
    """SHA-256 of rows that came from no file (the grid's 提交): their codes, values and filers."""
    text = json.dumps([row[1:] for row in rows], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_scope(period: Period, scope: Region, codes: set[str]) -> ImportScope:
    """The units under `scope` and their reports: only what the rows can touch, so that a county's
    submit does not load a whole province. Plain rows, past the ORM's work for each."""
    campaign = period.campaign
    indicators = fields(campaign.indicators)
    db.session.flush()  # what the session holds, as its own queries would see it
    connection = db.session.connection()
    in_scope = descendants_at(scope, campaign.report_level)
    before = previous_period(period)
    # the units, each beside what it submitted for the period before: one pass over the scope
    last = aliased(Report, name="last")
    values = [getattr(last, f"v{i.slot}") for i in indicators]
    units, previous = {}, {}
    for code, rid, parent_id, submitted, *row in connection.execute(
            in_scope.with_only_columns(Region.code, Region.id, Region.parent_id, last.id.is_not(None), *values)
            .outerjoin(last, and_(last.region_id == Region.id, last.period_id == (before.id if before else None),
                                  last.status == "submitted"))).all():
        units[code] = (rid, parent_id)
        if submitted:
            previous[rid] = tuple(row)
    outside = [code for code in codes if code and code not in units]
    forbidden = set()
    if outside and scope.id != campaign.root_id:
        forbidden = set(connection.execute(descendants_at(campaign.root, campaign.report_level)
                                           .where(Region.code.in_(outside[:5000]))
                                           .with_only_columns(Region.code)).scalars())
    region_ids = in_scope.with_only_columns(Region.id)
    reports = {row.region_id: row for row in connection.execute(
        _stored_reports(indicators).where(Report.period_id == period.id, Report.region_id.in_(region_ids))).all()}
    return ImportScope(units, forbidden, reports, previous)


def _value_columns(indicators) -> list:
    return [getattr(Report, f"v{i.slot}") for i in indicators]


def _stored_reports(indicators):
    """What an import reads of a stored report; its values come last, in the indicators' order."""
    return select(Report.region_id, Report.id, Report.revision, Report.status, Report.submitted_at,
                  Report.submitted_by_id, *[getattr(Report, f"filer_{k}") for k in FILER_FIELDS], *_value_columns(indicators))


class Plan:
    """The rows of an import validated so far, in one pass each: what writing them will change, and
    what is wrong with them (`errors` block the import, `warnings` are reported)."""

    def __init__(self, indicators, read: ImportScope, previous: dict[int, dict], *, submit: bool,
                 reason: Optional[str], default_filer: Optional[dict], require_signature: bool = False,
                 states: Optional[dict] = None):
        self.indicators, self.read, self.previous = indicators, read, previous
        self.submit, self.require_signature, self.states = submit, require_signature, states or {}
        self.keys = [i.key for i in indicators]
        self.footer = default_filer or {}
        self.fallback = {k: "" if default_filer is not None else SYSTEM_FILER[k] for k in FILER_FIELDS}
        # the filer of a row that brings none and has none stored is the same for every such row
        self.fresh_filer = {k: self.footer.get(k) or self.fallback[k] for k in FILER_FIELDS}
        self.reason = reason
        self.errors = [RowIssue(None, "", e.field, e.message) for e in reason_errors(reason)]
        self.warnings, self.rows, self.seen = [], [], {}

    def add(self, rows) -> None:
        """Validate `rows` (line, unit code, raw values by key, filer fields) after those before."""
        indicators, read, previous, submit, states = \
            self.indicators, self.read, self.previous, self.submit, self.states
        keys, footer, fallback, fresh_filer = self.keys, self.footer, self.fallback, self.fresh_filer
        nothing_stored, no_filer, reason = dict.fromkeys(keys), dict.fromkeys(FILER_FIELDS), self.reason
        errors, warnings, seen, planned = self.errors, self.warnings, self.seen, self.rows
        for line, code, raw, row_filer in rows:
            if not code:
                errors.append(RowIssue(line, "", None, "缺少单位代码"))
                continue
            if code in read.forbidden:
                errors.append(RowIssue(line, "", None, f"无权填报单位 {code}"))
                continue
            if code not in read.units:
                errors.append(RowIssue(line, "", None, f"单位代码 {code} 不是本征缴期的填报单位"))
                continue
            if code in seen:
                errors.append(RowIssue(line, "", None, f"单位代码 {code} 与第{seen[code]}行重复"))
                continue
            seen[code] = line
            region_id, parent_id = read.units[code]
            values, problems = parse_values(indicators, raw)
            old = read.reports.get(region_id)
            stored = dict(zip(keys, old[-len(keys):])) if old is not None else nothing_stored
            merged = {**stored, **values}
            exists = old is not None
            given = {k: row_filer.get(k) or None for k in FILER_FIELDS} if row_filer else no_filer
            if not exists and not row_filer:
                filer = fresh_filer
            else:
                filer = signature(given, footer, None, {k: getattr(old, f"filer_{k}") for k in FILER_FIELDS}
                                  if exists else None, fallback)
            was_submitted = exists and old.status == "submitted"
            state, locked = states.get(old.id, (None, False)) if exists else (None, False)
            resigned = exists and row_filer and any(
                v is not None and v != getattr(old, f"filer_{k}") for k, v in given.items())
            verdict = judge(exists, was_submitted, state, locked,
                            is_change(exists, was_submitted, stored, merged, resigned, submit),
                            submit=submit, reason=reason, can_hold=False)
            if verdict.action == "refused":
                errors.append(RowIssue(line, code, None, verdict.message))
                continue
            rule_errors, row_warnings = check(indicators, merged, filer, submit=submit or was_submitted,
                                              previous=previous.get(region_id),
                                              require_signature=self.require_signature)
            if verdict.message:
                rule_errors.append(Issue("reason", verdict.message))
            if problems or rule_errors:
                errors.extend(RowIssue(line, code, e.field, e.message) for e in problems + rule_errors)
            if row_warnings:
                warnings.extend(RowIssue(line, code, w.field, w.message) for w in row_warnings)
            changed = verdict.action == "write"
            planned.append(PlannedRow(region_id, parent_id, code, line, old, stored, merged, filer,
                                      was_submitted, changed, verdict.status, verdict.reason))


def _write(period: Period, indicators, plan: Plan, rest: list[list], outcome: ImportOutcome, *,
           submit: bool, user: Optional[User], reason: Optional[str], now: dt.datetime,
           previous: dict[int, dict], source: dict, judge: Optional[Callable[[], None]] = None) -> None:
    """Write the validated rows: inserts, updates at the revision read, the corrections' revisions,
    and one audit entry that records the import (who, the period, the file's digest, the counts).

    `rest` are the parts of the rows not yet validated: each is validated while PostgreSQL checks
    the part written before it, and none is written if any has an error (ImportRejected; the
    caller undoes the parts written).

    A first submission gets no revision row: the report itself holds it (submitted_at, submitted_by,
    its values until a correction's revision keeps them as its old values), and the history shows it
    from there. What a correction replaced is in its revision row, so the audit entry does not
    repeat every unit's values."""
    user_id = user.id if user is not None else None  # once: in a request `user` is a proxy
    keys = [i.key for i in indicators]
    updates, corrections = [], []
    tallies = Changes(period, indicators)
    # the basis needs, for each unit submitting, its report before and its next one after (the
    # units of the parts not yet validated may all be submitting)
    submitting = [row.region_id for row in plan.rows if row.changed and (submit or row.was_submitted)]
    submitting += [plan.read.units[code][0] for part in rest for _, code, _, _ in part if code in plan.read.units]
    prior, later = neighbours(period, submitting, indicators, previous) if submitting else ({}, {})
    late = period.is_overdue(now)  # what is submitted now is 迟报

    def new_reports(planned: list[PlannedRow]):
        """Go through the rows once: yield each new report as the COPY takes it, and gather the
        updates and corrections meanwhile (the database stores the first rows on the other core
        while the rest are worked out here)."""
        for row in planned:
            if not row.changed:
                outcome.unchanged += 1
                continue
            status = row.status
            if row.was_submitted:
                outcome.corrected += 1
            elif status == "submitted":
                outcome.submitted += 1
            elif row.old is None:
                outcome.new_drafts += 1
            if row.was_submitted:
                corrections.append(row)
            values = [row.merged[k] for k in keys]
            filer = [row.filer[k] for k in FILER_FIELDS]
            old = row.old
            if old is None:
                first = status == "submitted"
                yield (period.id, row.region_id, status, *values, *filer, now if first else None,
                       user_id if first else None, now, user_id, 1)
            else:
                first = status == "submitted" and old.submitted_at is None
                updates.append((status, *values, *filer, now if first else old.submitted_at,
                                user_id if first else old.submitted_by_id, now, user_id, old.id, old.revision))

    def count() -> None:
        """The tallies' changes (and `judge`'s warnings): work over the rows that needs neither the
        session nor the database, done beside the COPY's last step, the database's check of the rows."""
        if judge is not None:
            judge()
        for row in plan.rows:
            if not row.changed:
                continue
            if row.was_submitted:
                tallies.corrected(row.parent_id, row.stored, row.merged, later.get(row.region_id))
            elif submit:
                tallies.submitted(row.parent_id, row.merged, late=late,
                                  prior=prior.get(row.region_id), later=later.get(row.region_id))

    def batches():
        """The new reports of each validated part, with the work to do while the database checks
        them: validating the next part, and after the last the tallies' changes."""
        done = 0
        for at, part in enumerate(rest):
            batch, done = plan.rows[done:], len(plan.rows)
            yield new_reports(batch), functools.partial(plan.add, part)
            if plan.errors:
                for later_part in rest[at + 1:]:
                    plan.add(later_part)
                raise ImportRejected(plan.errors)
        yield new_reports(plan.rows[done:]), count

    inserted = _write_reports(indicators, batches(), updates)
    tallies.apply()
    outcome.loaded, outcome.inserted, outcome.updated, outcome.written = \
        len(plan.rows), inserted, len(updates), True
    reason = (reason or "").strip()
    if corrections:
        insert_values(Revision.__table__,
                      ["report_id", "number", "kind", "old_values", "new_values", "reason", "user_id", "created_at"],
                      [(row.old.id, row.old.revision + 1, "correct", row.stored, row.merged, row.reason, user_id, now)
                       for row in corrections])
    if inserted or updates:
        audit.record("reports.import", user, region=period.campaign.root,
                     target=f"报表 {period.label} 批量导入 {inserted + len(updates):,}个单位"
                            + ("并提交" if submit else ""),
                     after={"period_id": period.id, "period": period.label, **source, "submit": submit,
                            "rows": outcome.loaded, "inserted": inserted, "updated": len(updates),
                            "corrected": len(corrections), "unchanged": outcome.unchanged,
                            "warnings": len(outcome.warnings), **({"reason": reason} if reason else {})})


def _write_reports(indicators, batches: Iterable[tuple[Iterable[tuple], Callable[[], None]]],
                   updates: list[tuple]) -> int:
    """Insert the new reports, batch by batch, each with the work to do while the database checks
    it (see `insert_values`), then update the stored ones at the revision that was read; how many
    were inserted. `updates` is read after the batches are exhausted (it may be filled meanwhile).

    Someone may have saved a unit since then: its row is then already there (insert) or at another
    revision (update). Refuse the whole import rather than skip or overwrite it."""
    stale = ImportRejected([RowIssue(None, "", None, "导入期间有单位的报表被他人修改，本次未导入任何数据，"
                                                      "请查看最新数据后重新导入")])
    table = Report.__table__
    written = ["status", *[c.key for c in _value_columns(indicators)], *[f"filer_{k}" for k in FILER_FIELDS],
               "submitted_at", "submitted_by_id", "updated_at", "updated_by_id"]
    inserted = 0
    try:
        for inserts, meanwhile in batches:
            inserted += insert_values(table, ["period_id", "region_id", *written, "revision"], inserts, meanwhile)
    except IntegrityError:
        raise stale from None
    if update_values(table, written, ["id", "revision"], updates, bump="revision") != len(updates):
        raise stale
    return inserted


def _jump_warnings(planned: list[PlannedRow], previous: dict) -> list[RowIssue]:
    """Increases far above the siblings' median, judged within the batch (one pass, no queries)."""
    increases: dict[Optional[int], list[tuple[PlannedRow, int]]] = {}
    for row in planned:
        before = (previous.get(row.region_id) or {}).get(RATE_NUMERATOR)
        now = row.merged.get(RATE_NUMERATOR)
        if before is not None and now is not None:
            increases.setdefault(row.parent_id, []).append((row, now - before))
    warnings = []
    for siblings in increases.values():
        # jump_warning against the others' positive increases: their median is the sorted list's
        # with this unit's own increase taken out, found by position instead of sorting again
        positive = sorted(increase for _, increase in siblings if increase > 0)
        others = len(positive) - 1
        if others < 3:
            continue
        for row, increase in siblings:
            if increase <= 0:
                continue
            own = bisect.bisect_left(positive, increase)
            at = lambda i: positive[i if i < own else i + 1]  # noqa: E731
            middle = others // 2
            median = at(middle) if others % 2 else (at(middle - 1) + at(middle)) / 2
            message = jump_message(increase, median)
            if message:
                warnings.append(RowIssue(row.line, row.code, RATE_NUMERATOR, message))
    return warnings


def _sibling_warnings(indicators, planned: list[PlannedRow], read: ImportScope) -> list[RowIssue]:
    """Values far above every sibling's (validation.sibling_outlier), the siblings being the other
    rows under the same parent, or the units' last period where the batch does not hold them.

    Only the largest value of a parent's units can be far above all the others, so each parent
    and indicator needs one pass for its two largest values and one check, not one per row."""
    keys = [i.key for i in indicators]
    labels = {i.key: i.label for i in indicators}
    pool: dict[Optional[int], dict[int, tuple]] = {}
    if read.previous:
        parents = {rid: parent for rid, parent in read.units.values()}
        for rid, values in read.previous.items():
            pool.setdefault(parents.get(rid), {})[rid] = values  # in the indicators' order
    in_order = picker(keys)  # merged holds every key (stored or given)
    for row in planned:
        pool.setdefault(row.parent_id, {})[row.region_id] = in_order(row.merged)
    batch = {row.region_id: row for row in planned}
    warnings = []
    for units in pool.values():
        if len(units) < 4:  # a unit and at least three siblings
            continue
        for n, key in enumerate(keys):
            top = second = holder = None
            count = 0
            for rid, values in units.items():
                value = values[n]
                if value is None:
                    continue
                count += 1
                if top is None or value > top:
                    top, second, holder = value, top, rid
                elif second is None or value > second:
                    second = value
            row = batch.get(holder)
            if row is None:
                continue
            issue = sibling_outlier(key, labels[key], top, second or 0, count - 1)
            if issue:
                warnings.append(RowIssue(row.line, row.code, issue.field, issue.message))
    return sorted(warnings, key=lambda w: (w.line or 0, w.code))
