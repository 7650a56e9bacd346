"""The 参保进度表 grid: a county (or township) files its units' counts for a period."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   send_file, url_for)
from flask_login import current_user, login_required
from sqlalchemy import and_, select

from forms.filing import SubmitForm, UploadForm

from .. import access, clock
from ..campaigns import campaigns_for
from ..extensions import db
from ..filing import (FILER_FIELDS, SYSTEM_FILER, ImportRejected, ReportConflict, ReportRejected, RowIssue,
                      filing_status, import_reports, is_closed, late_status, save_report)
from ..filing import history as report_history
from ..hierarchy import descendants_at, region_by_code
from ..indicators import fields
from ..models import LEVELS, VALUE_SLOTS, Period, Region, Report
from ..rollup import FILED, child_totals, ratio, region_totals
from ..schedule import current_period
from ..spreadsheets import TableError, file_name
from . import go_to, page_or_fragment

bp = Blueprint("filing", __name__, url_prefix="/filing")


# --- loading and checking --------------------------------------------------------------------

def load_grid(period_id: int, code: str, write: bool = False) -> tuple[Period, Region]:
    """The period and the filing region of a grid URL, after the one access check."""
    period = db.get_or_404(Period, period_id, description="报送期次不存在")
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    access.require(current_user, region, write=True)
    campaign = period.campaign
    if not (campaign.root.contains(region) or region.contains(campaign.root)):
        abort(404, f"{region.name}不在该征缴期范围内")
    if LEVELS.index(region.level) > LEVELS.index(campaign.report_level):
        abort(404, f"{region.name}低于填报层级")
    return period, region


def read_only(period: Period) -> bool:
    return is_closed(period.campaign, clock.today()) and current_user.role != "city_admin"


# --- the grid's rows -------------------------------------------------------------------------

@dataclass
class Group:
    """The units of one township (or one parent) with its subtotal row."""
    parent: Optional[Region]
    units: list[tuple["GridUnit", Optional["GridReport"]]] = field(default_factory=list)


class GridUnit(NamedTuple):
    """A unit of the grid: what its row shows of the Region, read as a plain row."""
    id: int
    code: str
    name: str
    parent_id: Optional[int]


class GridReport:
    """What a grid row shows of a Report, read as a plain row (no ORM object per unit)."""
    __slots__ = ("id", "region_id", "status", "revision", "submitted_at", "updated_at", "filer_name",
                 "filer_phone", "filer_head", "late", "_values")
    COLUMNS = ("id", "region_id", "status", "revision", "submitted_at", "updated_at", "filer_name",
               "filer_phone", "filer_head")

    def __init__(self, row, deadline):
        for name, value in zip(self.COLUMNS, row):
            setattr(self, name, value)
        self._values = row[len(self.COLUMNS):]
        self.late = self.submitted_at is not None and self.submitted_at >= deadline

    def values(self, indicators) -> dict[str, Optional[int]]:
        return {i.key: self._values[i.slot - 1] for i in indicators}


def grid_groups(period: Period, region: Region) -> list[Group]:
    campaign = period.campaign
    in_grid = descendants_at(region, campaign.report_level)
    units = [GridUnit(*row) for row in db.session.execute(
        in_grid.with_only_columns(Region.id, Region.code, Region.name, Region.parent_id).order_by(Region.code))]
    deadline = period.deadline
    slots = [getattr(Report, f"v{slot}") for slot in range(1, VALUE_SLOTS + 1)]
    reports = {row.region_id: GridReport(row, deadline) for row in db.session.execute(
        select(*[getattr(Report, c) for c in GridReport.COLUMNS], *slots)
        .where(Report.period_id == period.id, Report.region_id.in_(in_grid.with_only_columns(Region.id))))}
    parent_ids = {u.parent_id for u in units} - {region.id}
    parents = {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(parent_ids)))}
    groups: dict[Optional[int], Group] = {}
    for unit in units:
        key = unit.parent_id if unit.parent_id in parents else None
        groups.setdefault(key, Group(parents.get(key))).units.append((unit, reports.get(unit.id)))
    return list(groups.values())


def grid_units(period: Period, region: Region) -> list[tuple[str, str, bool]]:
    """(code, name, has a report) of the grid's units, in the grid's order: the little a submit needs."""
    return [tuple(row) for row in db.session.execute(
        descendants_at(region, period.campaign.report_level)
        .with_only_columns(Region.code, Region.name, Report.id.is_not(None))
        .outerjoin(Report, and_(Report.region_id == Region.id, Report.period_id == period.id))
        .order_by(Region.code))]


def grid_context(period: Period, region: Region, **extra) -> dict:
    campaign = period.campaign
    groups = grid_groups(period, region)
    level = groups[0].parent.level if groups and groups[0].parent else None
    subtotals = child_totals(period, region, statuses=FILED, level=level) if level else {}
    reports = [r for g in groups for _, r in g.units if r is not None]
    submitted = [r for r in reports if r.status == "submitted"]
    # the footer of the last person who signed, unless the numbers came from the information system
    signed = [r for r in reports if r.filer_name and r.filer_name != SYSTEM_FILER["name"]]
    first = max(signed, key=lambda r: r.updated_at) if signed else None
    form = extra.pop("form", None) or SubmitForm(data={
        f"filer_{k}": (getattr(first, f"filer_{k}") if first else "") or default
        for k, default in (("name", current_user.full_name), ("phone", current_user.phone), ("head", ""))})
    return dict(
        period=period, campaign=campaign, region=region, groups=groups, subtotals=subtotals,
        total=region_totals(period, region, statuses=FILED), indicators=fields(campaign.indicators),
        status=filing_status(campaign, period, region), now=clock.now(),
        all_submitted=bool(groups) and len(submitted) == sum(len(g.units) for g in groups),
        last_submitted_at=max((r.submitted_at for r in submitted), default=None),
        late=any(r.late for r in submitted), read_only=read_only(period), form=form,
        periods=campaign.periods, ratio=ratio, late_status=late_status,
        **{"errors": [], "warnings": [], "needs_ack": False, "names": {}, **extra})


def respond(template: str, block: str, context: dict, status: int = 200):
    return page_or_fragment(template, block, context, status)


# --- pages ----------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    """The grid of the current period for the user's own region, or the one chosen."""
    region = current_user.region
    campaigns = campaigns_for(region)
    if not campaigns:
        abort(404, "目前没有征缴期")
    campaign = campaigns[0]
    period = (db.session.get(Period, request.args.get("period", type=int) or 0)
              or current_period(campaign, clock.today()))
    code = request.args.get("region") or region.code
    if LEVELS.index(region.level) < LEVELS.index("county") and "region" not in request.args:
        return render_template("filing/choose.html", region=region, period=period,
                               counties=db.session.scalars(descendants_at(region, "county")
                                                           .order_by(Region.code)).all())
    return redirect(url_for("filing.grid", period_id=period.id, code=code))


@bp.get("/<int:period_id>/<code>")
@login_required
def grid(period_id: int, code: str):
    period, region = load_grid(period_id, code)
    return respond("filing/grid.html", "grid", grid_context(period, region))


@bp.post("/<int:period_id>/<code>/units/<unit_code>")
@login_required
def update_unit(period_id: int, code: str, unit_code: str):
    """Save one unit's row as a draft (or a correction) and answer with the recomputed totals."""
    period, region = load_grid(period_id, code, write=True)
    unit = region_by_code(unit_code)
    if unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    if not request.htmx:
        return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    # plain specs: the commit below expires the ORM rows, and the answer would reload each one
    indicators = fields(period.campaign.indicators)
    raw = {i.key: request.form[i.key] for i in indicators if i.key in request.form}
    revision = request.form.get("revision", type=int)
    outcome, conflict, errors, warnings = None, None, [], []
    try:
        outcome = save_report(period, unit, raw, {}, user=current_user, submit=False, strict=False,
                              reason=request.form.get("reason"), revision=revision)
        errors, warnings = outcome.errors, outcome.warnings
        _commit_keeping_rows()
    except ReportRejected as rejected:
        db.session.rollback()
        errors, warnings = rejected.errors, rejected.warnings
    except ReportConflict as error:
        db.session.rollback()
        conflict = error
    report = db.session.scalar(select(Report).where(Report.period_id == period.id,
                                                    Report.region_id == unit.id))
    # Only what the change moves: this row's rate and messages, its group's subtotal, the total.
    group = unit.parent if unit.parent_id != region.id and region.contains(unit.parent) else None
    body = render_template(
        "filing/_unit_update.html", unit=unit, report=report, errors=errors, warnings=warnings,
        conflict=conflict, values=report.values(indicators) if report else {}, indicators=indicators,
        ratio=ratio, group=group, subtotal=region_totals(period, group, FILED) if group else None,
        total=region_totals(period, region, FILED), status=filing_status(period.campaign, period, region))
    response = make_response(body)
    response.headers["HX-Trigger"] = json.dumps({"grid-cells": {
        "unit": unit.code, "invalid": sorted({e.field for e in errors if e.field}),
        "warned": sorted({w.field for w in warnings if w.field})}})
    return response


def _commit_keeping_rows() -> None:
    """Commit without expiring the session's rows: the answer to a row save shows the rows this
    request read or wrote (the period, the units, the report) and sums it reads afresh, so reading
    each row again after the commit would only repeat what the session holds."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


@bp.post("/<int:period_id>/<code>/submit")
@login_required
def submit(period_id: int, code: str):
    """提交: every unit of the grid at once, after one acknowledgement of the warnings."""
    period, region = load_grid(period_id, code, write=True)
    form = SubmitForm()
    if not form.validate():
        # the footer's own checks (lengths, the CSRF token): listed like the rules' errors, at their field
        refused = [RowIssue(None, "", f"filer.{name[len('filer_'):]}" if name.startswith("filer_") else name,
                            message) for name, messages in form.errors.items() for message in messages]
        return respond("filing/grid.html", "submit_panel", grid_context(period, region, form=form,
                                                                        errors=refused), 422)
    filer = {k: (getattr(form, f"filer_{k}").data or "").strip() for k in FILER_FIELDS}
    context_errors: list[RowIssue] = []
    units = grid_units(period, region)
    missing = [(code, name) for code, name, filed in units if not filed]
    context_errors.extend(RowIssue(None, code, None, f"{name}尚未填写") for code, name in missing)
    rows = [(None, code, {}, {}) for code, _, filed in units if filed]
    names = {code: name for code, name, _ in units}
    try:
        outcome = import_reports(period, rows, submit=True, user=current_user, reason=form.reason.data,
                                 default_filer=filer, scope=region, dry_run=bool(missing),
                                 hold_on_warnings=not form.acknowledge.data)
    except ImportRejected as rejected:
        db.session.rollback()
        context_errors.extend(_footer_once(rejected.errors))
    if context_errors:
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, errors=context_errors, names=names), 422)
    if not outcome.written:  # warnings wait for one acknowledgement
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, warnings=outcome.warnings, needs_ack=True, names=names), 422)
    db.session.commit()
    flash(f"已提交{region.name}{period.label}的进度表")
    return go_to(url_for("filing.grid", period_id=period.id, code=region.code))


@bp.get("/<int:period_id>/<code>/history")
@login_required
def history(period_id: int, code: str):
    """Who changed what, when and why: every revision of the grid's reports, as a diff."""
    period, region = load_grid(period_id, code)
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    revisions = report_history(period, units)
    reports = {r.id: r for r in db.session.scalars(select(Report).where(
        Report.id.in_({rev.report_id for rev in revisions})))}
    return render_template("filing/history.html", period=period, region=region, revisions=revisions,
                           reports=reports, indicators=period.campaign.indicators)


@bp.get("/<int:period_id>/<code>/form.xlsx")
@login_required
def download(period_id: int, code: str):
    """The period's form as .xlsx in the 进度表 layout, with the current values."""
    from ..progress_workbook import FormRow, write_progress_form
    period, region = load_grid(period_id, code)
    context = grid_context(period, region)
    indicators = context["indicators"]
    rows = []
    for group in context["groups"]:
        for unit, report in group.units:
            rows.append(FormRow(unit.code, unit.name, report.values(indicators) if report else {}))
        if group.parent is not None:
            sub = context["subtotals"].get(group.parent.id)
            rows.append(FormRow("", f"{group.parent.name} 小计", sub.values if sub else {}, kind="subtotal"))
    rows.append(FormRow("", "合计", context["total"].values, kind="total"))
    form = context["form"]
    data = write_progress_form(
        title=f"{period.campaign.name}参保进度表", unit_name=f"{region.name}医疗保障局",
        as_of=period.as_of, due=period.due, columns=_columns(indicators), rows=rows,
        filer={k: getattr(form, f"filer_{k}").data or "" for k in FILER_FIELDS}, filled_on=clock.today())
    import io
    return send_file(io.BytesIO(data), as_attachment=True,
                     download_name=file_name(f"{region.name}{period.label}参保进度表.xlsx"),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<int:period_id>/<code>/upload", methods=["GET", "POST"])
@login_required
def upload(period_id: int, code: str):
    """Upload a filled .xlsx: the same validation, all or nothing, errors by row and column."""
    from ..progress_workbook import read_progress_form
    period, region = load_grid(period_id, code, write=True)
    form = UploadForm()
    problems: list = []
    if form.validate_on_submit():
        indicators = period.campaign.indicators
        try:
            data = form.workbook.data.read()
            parsed = read_progress_form(data, _columns(indicators))
            outcome = import_reports(
                period, [(line, unit_code, raw, {}) for line, unit_code, raw in parsed.rows],
                submit=form.submit_now.data, user=current_user, reason=form.reason.data,
                default_filer=parsed.filer if form.submit_now.data else None, scope=region,
                source={"file": form.workbook.data.filename or "", "sha256": hashlib.sha256(data).hexdigest()})
        except TableError as error:
            problems = [RowIssue(None, "", None, str(error))]
        except ImportRejected as rejected:
            db.session.rollback()
            problems = rejected.errors
        else:
            db.session.commit()
            flash(f"已导入{outcome.loaded}个单位的数据" + ("并提交" if form.submit_now.data else "（草稿）")
                  + (f"，另有{len(outcome.warnings)}条提示请核实" if outcome.warnings else ""))
            return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    labels = {i.key: i.label for i in period.campaign.indicators}
    status = 422 if problems or form.errors else 200
    return render_template("filing/upload.html", period=period, region=region, form=form,
                           problems=problems, labels=labels), status


def _footer_once(errors: list[RowIssue]) -> list[RowIssue]:
    """The footer is shared by every row: say what is wrong with it once, before the rows."""
    footer, rows, seen = [], [], set()
    for error in errors:
        if error.field and error.field.startswith("filer."):
            if (error.field, error.message) not in seen:
                seen.add((error.field, error.message))
                footer.append(RowIssue(None, "", error.field, error.message))
        else:
            rows.append(error)
    return footer + rows


def _columns(indicators):
    from ..progress_workbook import Column
    return [Column(i.key, i.label, i.part_of) for i in indicators]
