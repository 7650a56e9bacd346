"""Filing a unit's form for a period: drafts, submission, late marks, corrections and conflicts."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from . import audit, clock
from .bulk import insert_rows
from .extensions import db
from .hierarchy import descendants_at
from .indicators import RATE_NUMERATOR, fields
from .models import Campaign, Indicator, Period, Region, Report, Revision, User
from .validation import FILER_FIELDS, Issue, check, jump_warning, parse_values, reason_errors


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
    errors += reason_errors(reason)
    stored = report.values(indicators) if report else {i.key: None for i in indicators}
    stored_any = report is not None
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
    kind = "report.correct" if was_submitted else "report.submit" if submitting else "report.save"
    audit.record(kind, user, region=region, target=f"报表 {region.code} {period.label} 第{report.revision}版",
                 before={**stored, **({"status": "submitted"} if was_submitted else {})} if stored_any else None,
                 after={**merged, "status": report.status, **({"reason": reason.strip()} if reason else {})})
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


# --- bulk import: the information system's export, or an uploaded workbook -----------------

@dataclass(frozen=True)
class RowIssue:
    """A problem or warning of one row of a bulk import: where it is, and what."""
    line: Optional[int]
    code: str
    field: Optional[str]
    message: str

    def __str__(self) -> str:
        where = f"第{self.line}行" if self.line else ""
        code = f"（{self.code}）" if self.code and where else self.code
        return f"{where}{code}：{self.message}" if where or code else self.message


class ImportRejected(ValueError):
    """Some rows are wrong; nothing was written. `errors` lists RowIssues."""

    def __init__(self, errors: list):
        self.errors = errors
        more = f"（共{len(errors)}处错误）" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}" if errors else "导入失败")


@dataclass
class ImportOutcome:
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[RowIssue] = field(default_factory=list)
    #: False when validation passed but nothing was written (a dry run, or warnings held it)
    written: bool = False


#: who signs a report that came from the information system rather than the form
SYSTEM_FILER = {"name": "信息系统导入", "phone": "", "head": ""}
FILER_HEADINGS = {"name": ("填表人",), "phone": ("联系电话",), "head": ("单位负责人",)}


def rows_from_table(indicators: list[Indicator], header: list[str], body: list[tuple[int, list]]):
    """Map a table's columns (单位代码, then indicators by key or Chinese name) to report rows."""
    squeeze = lambda text: str(text or "").replace(" ", "").replace("\n", "")  # noqa: E731
    heads = [squeeze(h) for h in header]
    if "单位代码" not in heads:
        raise ImportRejected([RowIssue(None, "", None,
                                       f"表头中没有“单位代码”列（表头为：{'、'.join(h for h in heads if h)}）")])
    code_at = heads.index("单位代码")
    columns = {}
    for i in indicators:
        for name in (i.key, squeeze(i.label)):
            if name in heads:
                columns[i.key] = heads.index(name)
                break
    if not columns:
        raise ImportRejected([RowIssue(None, "", None,
                                       "表头中没有任何指标列（应为指标代码或中文名称，如 enrolled 或 居民医保已参保人数）")])
    filer_columns = {key: heads.index(names[0]) for key, names in FILER_HEADINGS.items() if names[0] in heads}
    rows = []
    for line, cells in body:
        cell = lambda at: cells[at] if at < len(cells) else None  # noqa: E731
        code = cell(code_at)
        code = str(int(code)) if isinstance(code, (int, float)) and not isinstance(code, bool) else str(code or "").strip()
        filer = {key: str(cell(at) or "").strip() for key, at in filer_columns.items()}
        rows.append((line, code, {key: cell(at) for key, at in columns.items()}, filer))
    return rows


def import_reports(period: Period, rows: list[tuple[int, str, dict, dict]], *, submit: bool,
                   user: Optional[User] = None, reason: Optional[str] = None,
                   default_filer: Optional[dict] = None, dry_run: bool = False,
                   hold_on_warnings: bool = False,
                   scope: Optional[Region] = None) -> ImportOutcome:
    """Validate every row with the form's rules, then write them all in batched statements, or none.

    `rows` are (line, unit code, raw values by key, filer fields). The filer of a row is, in order:
    its own fields, `default_filer` (a form's footer, which then must be complete), what was stored,
    and last the information system. `dry_run` validates without writing; `hold_on_warnings`
    writes only when there is no warning (the form's "确认无误" step). Only units inside
    `scope` (by default the user's region, or the campaign's root) are read and may be written.
    """
    campaign = period.campaign
    indicators = fields(campaign.indicators)
    now = clock.now()
    if is_closed(campaign, now.date()) and not (user and user.role == "city_admin"):
        raise ImportRejected([RowIssue(None, "", None, "该期次已关闭（征缴期及延长期已结束），只有市级管理员可以修改")])
    # Read only what the rows can touch: a county's submit must not load a whole province.
    root = campaign.root
    scope = scope or (user.region if user is not None and root.contains(user.region) else root)
    in_scope = descendants_at(scope, campaign.report_level)
    units = {code: (rid, parent_id) for code, rid, parent_id in db.session.execute(
        in_scope.with_only_columns(Region.code, Region.id, Region.parent_id))}
    outside = {code for _, code, _, _ in rows if code and code not in units}
    in_root = set()
    if outside and scope is not root:
        in_root = set(db.session.scalars(descendants_at(root, campaign.report_level)
                                         .where(Region.code.in_(list(outside)[:5000]))
                                         .with_only_columns(Region.code)))
    slots = {i.key: f"v{i.slot}" for i in indicators}
    table = Report.__table__
    scope_ids = in_scope.with_only_columns(Region.id)
    existing = {row["region_id"]: row for row in db.session.execute(
        select(table).where(table.c.period_id == period.id, table.c.region_id.in_(scope_ids))).mappings()}
    before = previous_period(period)
    previous = {}
    if before is not None:
        previous = {row["region_id"]: {k: row[s] for k, s in slots.items()} for row in db.session.execute(
            select(table).where(table.c.period_id == before.id, table.c.status == "submitted",
                                table.c.region_id.in_(scope_ids))).mappings()}

    errors, warnings, seen = [RowIssue(None, "", e.field, e.message) for e in reason_errors(reason)], [], {}
    planned = []
    for line, code, raw, row_filer in rows:
        if not code:
            errors.append(RowIssue(line, "", None, "缺少单位代码"))
            continue
        if code in in_root:
            errors.append(RowIssue(line, "", None, f"无权填报单位 {code}"))
            continue
        if code not in units:
            errors.append(RowIssue(line, "", None, f"单位代码 {code} 不是本征缴期的填报单位"))
            continue
        if code in seen:
            errors.append(RowIssue(line, "", None, f"单位代码 {code} 与第{seen[code]}行重复"))
            continue
        seen[code] = line
        region_id, parent_id = units[code]
        values, problems = parse_values(indicators, raw)
        old = existing.get(region_id)
        stored = {k: old[s] for k, s in slots.items()} if old is not None else {k: None for k in slots}
        merged = {**stored, **values}
        filer = {k: row_filer.get(k) or (default_filer or {}).get(k) or
                 (old[f"filer_{k}"] if old is not None else "") or
                 ("" if default_filer is not None else SYSTEM_FILER[k]) for k in FILER_FIELDS}
        was_submitted = old is not None and old["status"] == "submitted"
        rule_errors, row_warnings = check(indicators, merged, filer, submit=submit or was_submitted,
                                          previous=previous.get(region_id),
                                          require_signature=default_filer is not None)
        changed = old is None or merged != stored or (submit and not was_submitted)
        if was_submitted and changed and not (reason or "").strip():
            rule_errors.append(Issue("reason", "该单位已提交，修改须说明原因"))
        errors.extend(RowIssue(line, code, e.field, e.message) for e in problems + rule_errors)
        warnings.extend(RowIssue(line, code, w.field, w.message) for w in row_warnings)
        planned.append((region_id, parent_id, code, line, old, stored, merged, filer, was_submitted, changed))
    if errors:
        raise ImportRejected(errors)
    warnings.extend(_jump_warnings(planned, previous))

    outcome = ImportOutcome(loaded=len(planned), warnings=warnings)
    if dry_run or (hold_on_warnings and warnings):
        return outcome
    inserts, updates, revisions = [], [], []
    audit_before, audit_after = {}, {}
    for region_id, _, code, _, old, stored, merged, filer, was_submitted, changed in planned:
        if not changed:
            outcome.unchanged += 1
            continue
        status = "submitted" if submit or was_submitted else "draft"
        row = {s: merged[k] for k, s in slots.items()}
        row.update({f"filer_{k}": filer[k] for k in FILER_FIELDS}, status=status, updated_at=now,
                   updated_by_id=user.id if user else None)
        if old is None:
            inserts.append({**row, "period_id": period.id, "region_id": region_id, "revision": 1,
                            "submitted_at": now if status == "submitted" else None})
        else:
            row["submitted_at"] = old["submitted_at"] or (now if status == "submitted" else None)
            updates.append({**row, "b_id": old["id"], "b_revision": old["revision"]})
        if status == "submitted":
            revisions.append((region_id, "correct" if was_submitted else "submit", stored, merged))
        if old is not None:
            audit_before[code] = {**stored, "status": old["status"]}
        audit_after[code] = {**merged, "status": status}
    # Someone may have saved a unit since `existing` was read: its row is then already there (insert)
    # or at another revision (update). Refuse the whole import rather than skip or overwrite it.
    stale = ImportRejected([RowIssue(None, "", None, "导入期间有单位的报表被他人修改，本次未导入任何数据，"
                                                      "请查看最新数据后重新导入")])
    try:
        insert_rows(table, inserts)
    except IntegrityError:
        raise stale from None
    if updates:
        statement = (table.update().where(table.c.id == bindparam("b_id"),
                                          table.c.revision == bindparam("b_revision"))
                     .values({**{k: bindparam(k) for k in updates[0] if not k.startswith("b_")},
                              "revision": table.c.revision + 1}))
        for start in range(0, len(updates), 5000):
            batch = updates[start:start + 5000]
            if db.session.execute(statement, batch).rowcount != len(batch):
                raise stale
    outcome.inserted, outcome.updated, outcome.written = len(inserts), len(updates), True
    if revisions:
        ids = {row.region_id: (row.id, row.revision) for row in db.session.execute(
            select(table.c.region_id, table.c.id, table.c.revision)
            .where(table.c.period_id == period.id, table.c.region_id.in_(scope_ids)))}
        rows_out = [{"report_id": ids[rid][0], "number": ids[rid][1], "kind": kind,
                     "old_values": old if kind == "correct" else {},
                     "new_values": new, "reason": (reason or "").strip(), "created_at": now,
                     "user_id": user.id if user else None} for rid, kind, old, new in revisions]
        insert_rows(Revision.__table__, rows_out)
    if audit_after:
        # one entry for the import, holding every unit's values before and after
        audit.record("reports.import", user, region=campaign.root,
                     target=f"报表 {period.label} 批量导入 {len(audit_after):,}个单位"
                            + ("并提交" if submit else ""),
                     before=audit_before or None,
                     after={"units": audit_after, **({"reason": reason.strip()} if reason else {})})
    return outcome


def _jump_warnings(planned, previous) -> list[RowIssue]:
    """Increases far above the siblings' median, judged within the batch (one pass, no queries)."""
    increases: dict[int, list[tuple[str, int, int]]] = {}
    for region_id, parent_id, code, line, _, _, merged, _, _, _ in planned:
        before = (previous.get(region_id) or {}).get(RATE_NUMERATOR)
        now = merged.get(RATE_NUMERATOR)
        if before is not None and now is not None:
            increases.setdefault(parent_id, []).append(((line, code), now - before, region_id))
    warnings = []
    for siblings in increases.values():
        for (line, code), increase, region_id in siblings:
            others = [i for _, i, rid in siblings if rid != region_id]
            message = jump_warning(increase, others)
            if message:
                warnings.append(RowIssue(line, code, RATE_NUMERATOR, message))
    return warnings
