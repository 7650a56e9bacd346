"""The 参保进度表 grid: a county (or township) files its units' counts for a period."""
from __future__ import annotations

import hashlib
import json
from typing import Optional

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from forms.filing import SubmitForm, UploadForm
from reporting import access, clock
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.extensions import db
from reporting.filing import held, reviewed
from reporting.filing.carry import carried_values, with_carried
from reporting.filing.filing import (
    FILER_FIELDS,
    ReportConflict,
    ReportRejected,
    filing_totals,
    find_report,
    import_reports,
    save_report,
)
from reporting.filing.filing import history as report_history
from reporting.filing.grid import grid_context, grid_units, refusal
from reporting.filing.progress_workbook import rate_column
from reporting.filing.workbook_upload import carry_rows, foreign_form, outcome_message
from reporting.indicators import fields
from reporting.models import LEVELS, Campaign, Period, Region, Report, Review
from reporting.progress.rollup import rate_of
from reporting.regions.hierarchy import descendants_at, grid_regions, region_by_code
from reporting.regions.views import region_or_404
from reporting.spreadsheets import TableError, file_name
from reporting.tables import ImportRejected, RowIssue
from reporting.validation import Issue
from reporting.web import commit_keeping_rows, go_to, id_arg, page_or_fragment, period_or_404

bp = Blueprint("filing", __name__, url_prefix="/filing")
bp.add_app_template_global(with_carried)
bp.add_app_template_global(rate_column)


# --- loading and checking --------------------------------------------------------------------

def load_grid(period_id: int, code: str, write: bool = False, region: Optional[Region] = None
              ) -> tuple[Period, Region]:
    """The period and the filing region of a grid URL (`region`, when the caller has read it),
    after the one access check."""
    period = period_or_404(period_id, options=_PERIOD_WITH_FORM)
    region = region or region_or_404(code)
    access.require(current_user, region, write=write)  # a viewer reads the grid, and changes nothing
    campaign = period.campaign
    if not campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    if LEVELS.index(region.level) > LEVELS.index(campaign.report_level):
        abort(404, f"{region.name}低于填报层级")
    return period, region


#: a grid's period with its campaign, the campaign's root and its form (every grid view reads them)
_PERIOD_WITH_FORM = [joinedload(Period.campaign).options(joinedload(Campaign.root),
                                                         joinedload(Campaign.indicators))]


def respond(template: str, block: str, context: dict, status: int = 200):
    return page_or_fragment(template, block, context, status)


# --- pages ----------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    """The grid of the current period for the user's own region (or department), or the one chosen."""
    access.require_business(current_user)
    if current_user.role == "department_filer" or request.args.get("department"):
        return _department_index()
    region = current_user.region
    campaigns = campaigns_for(region)
    if not campaigns:
        abort(404, "目前没有征缴期")
    campaign = campaigns[0]
    period = (db.session.get(Period, id_arg("period") or 0)
              or current_period(campaign, clock.today()))
    code = request.args.get("region") or region.code
    if LEVELS.index(region.level) < LEVELS.index("county") and "region" not in request.args:
        return render_template("filing/choose.html", region=region, period=period,
                               may_file=access.can_file(current_user, region),
                               counties=db.session.scalars(descendants_at(region, "county")
                                                           .order_by(Region.code)).all())
    return redirect(url_for("filing.grid", period_id=period.id, code=code))


@bp.get("/<int:period_id>/<code>")
@login_required
def grid(period_id: int, code: str):
    period, region = load_grid(period_id, code)
    only_missing = request.args.get("only") == "missing"
    return respond("filing/grid.html", "grid", grid_context(period, region, only_missing, lay=True))


@bp.post("/<int:period_id>/<code>/units/<unit_code>")
@login_required
def update_unit(period_id: int, code: str, unit_code: str):
    """Save one unit's row as a draft (or a correction) and answer with the recomputed totals."""
    named = grid_regions(code, unit_code)  # the grid's region, the unit and its township at once
    period, region = load_grid(period_id, code, write=True, region=named.get(code))
    unit = named.get(unit_code)
    if unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    if not request.htmx:
        return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    # plain specs: the commit below expires the ORM rows, and the answer would reload each one
    indicators = fields(period.campaign.indicators)
    raw = {i.key: request.form[i.key] for i in indicators if i.key in request.form}
    revision = request.form.get("revision", type=int)
    outcome, conflict, errors, warnings, holding = None, None, [], [], False
    try:
        outcome = save_report(period, unit, raw, {}, user=current_user, submit=False, strict=False,
                              reason=request.form.get("reason"), revision=revision)
        errors, warnings = outcome.errors, outcome.warnings
        held.release(period, unit)
        commit_keeping_rows()
    except ReportRejected as rejected:
        db.session.rollback()
        errors, warnings = rejected.errors, rejected.warnings
        # nothing typed is lost: the row is kept as typed, with its errors, until fixed or discarded
        held.hold(period, unit, raw, errors, current_user)
        commit_keeping_rows()
        holding = True
    except ReportConflict as error:
        db.session.rollback()
        conflict = error
    report = outcome.report if outcome else find_report(period, unit)
    # Only what the change moves: this row's rate and messages, its group's subtotal, the total.
    group = unit.parent if unit.parent_id != region.id and region.contains(unit.parent) else None
    subtotal, total, status = filing_totals(period, region, group)
    body = render_template(
        "filing/_unit_update.html", unit=unit, report=report, errors=errors, warnings=warnings,
        conflict=conflict, values=reviewed.shown_values(report, indicators), indicators=indicators,
        rate_of=rate_of, group=group, holding=holding, subtotal=subtotal, total=total, status=status)
    response = make_response(body)
    response.headers["HX-Trigger"] = json.dumps({"grid-cells": {
        "unit": unit.code, "invalid": sorted({e.field for e in errors if e.field}),
        "warned": sorted({w.field for w in warnings if w.field}), "held": holding}})
    return response


@bp.post("/<int:period_id>/<code>/units/<unit_code>/discard")
@login_required
def discard(period_id: int, code: str, unit_code: str):
    """放弃修改: what was typed into a row and held unsaved is dropped; the row shows its saved values."""
    named = grid_regions(code, unit_code)
    period, region = load_grid(period_id, code, write=True, region=named.get(code))
    unit = named.get(unit_code)
    if unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    if held.release(period, unit):
        flash(f"已放弃{unit.name}未保存的输入")
    db.session.commit()
    return go_to(url_for("filing.grid", period_id=period.id, code=region.code, _anchor=f"u-{unit.code}"))


@bp.post("/<int:period_id>/<code>/submit")
@login_required
def submit(period_id: int, code: str):
    """提交: every unit of the grid at once, after one acknowledgement of the warnings."""
    period, region = load_grid(period_id, code, write=True)
    form = SubmitForm()
    units = grid_units(period, region)
    names = {code: name for code, name, _, _ in units}
    if locked_grid(period, region):
        return respond("filing/grid.html", "submit_panel", grid_context(period, region, form=form, names=names), 409)
    if not form.validate():
        # the footer's own checks (lengths, the CSRF token): listed like the rules' errors, at their field
        refused = [RowIssue(None, "", f"filer.{name[len('filer_'):]}" if name.startswith("filer_") else name,
                            message) for name, messages in form.errors.items() for message in messages]
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, refusal=refusal(refused, units), names=names), 422)
    filer = {k: (getattr(form, f"filer_{k}").data or "").strip() for k in FILER_FIELDS}
    missing = sum(1 for _, _, filed, _ in units if not filed)
    # a returned unit goes back up with the edits held for it (its resubmission)
    unsaved = save_held(period, region, form.reason.data)
    returned = reviewed.pending_codes(period, region)
    rows = [(None, code, returned.get(code, {}), {}) for code, _, filed, _ in units if filed]
    refused, outcome = refusal(unsaved, units, missing), None
    try:
        outcome = import_reports(period, rows, submit=True, user=current_user, reason=form.reason.data,
                                 default_filer=filer, scope=region, dry_run=bool(missing or unsaved),
                                 hold_on_warnings=not form.acknowledge.data)
    except ImportRejected as rejected:
        db.session.rollback()
        # what the grid shows in red and never reached a report comes first, with the rules' errors
        refused = refusal(unsaved + rejected.errors, units, missing)
    if refused:  # the errors first, then the warnings the dry run found
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, refusal=refused, warnings=outcome.warnings if outcome else [],
            names=names), 422)
    if not outcome.written:  # warnings wait for one acknowledgement
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, warnings=outcome.warnings, needs_ack=True, names=names), 422)
    db.session.commit()
    flash(f"已提交{region.name}{period.label}的进度表")
    return go_to(url_for("filing.grid", period_id=period.id, code=region.code))


def locked_grid(period: Period, region: Region) -> bool:
    """Whether every unit of the grid is locked (审核通过, or printed in a 通报): 提交 has nothing to do."""
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    total = db.session.scalar(units.with_only_columns(func.count(Region.id)))
    locked = db.session.scalar(
        select(func.count(Report.id)).join(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.region_id.in_(units),
               (Review.state == "approved") | Review.published_lock.is_(True)))
    return bool(total) and locked == total


def save_held(period: Period, region: Region, reason: Optional[str]) -> list[RowIssue]:
    """The rows held unsaved under `region`: each is saved once more (a correction that waited for
    its 修改原因 goes through with the one given now); what still fails is answered as the grid
    shows it, by unit, so that 提交 is refused while any of it remains."""
    left = []
    for code, _, kept in held.held_under(period, region):
        unit = region_by_code(code)
        try:
            with db.session.begin_nested():
                save_report(period, unit, kept.typed, {}, user=current_user, submit=False, strict=False,
                            reason=reason)
                held.release(period, unit)
        except (ReportRejected, ReportConflict) as failed:
            issues = failed.errors if isinstance(failed, ReportRejected) else [Issue(None, str(failed))]
            # the reason's absence is this unit's, not the whole form's: it stays on the unit's line
            left += [RowIssue(None, code, None if e.field == "reason" else e.field, e.message) for e in issues]
    return left


@bp.get("/<int:period_id>/<code>/history")
@login_required
def history(period_id: int, code: str):
    """Who changed what, when and why: every revision of the grid's reports, as a diff."""
    period, region = load_grid(period_id, code)
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    revisions = report_history(period, units)
    reports = {r.id: r for r in db.session.scalars(select(Report).where(
        Report.id.in_({rev.report_id for rev in revisions})))}
    actions = reviewed.actions_under(period, region)
    reports.update({r.id: r for r in db.session.scalars(select(Report).where(
        Report.id.in_({a.report_id for a in actions} - set(reports))))})
    return render_template("filing/history.html", period=period, region=region, revisions=revisions,
                           reports=reports, indicators=period.campaign.indicators, actions=actions)


@bp.get("/<int:period_id>/<code>/form.xlsx")
@login_required
def download(period_id: int, code: str):
    """The period's form as .xlsx in the 进度表 layout, with the current values."""
    from reporting.filing.progress_workbook import FormRow, write_progress_form
    period, region = load_grid(period_id, code)
    context = grid_context(period, region)
    indicators = context["indicators"]
    rows, carried = [], context["carried"]
    for group in context["groups"]:
        for unit, report in group.units:
            last = carried.get(unit.id, {})
            values = with_carried(report.values(indicators) if report else {}, last)
            rows.append(FormRow(unit.code, unit.name, values,
                                carried=frozenset(k for k, v in last.items() if values.get(k) == v)))
        if group.parent is not None:
            sub = context["subtotals"].get(group.parent.id)
            rows.append(FormRow("", f"{group.parent.name} 小计", sub.values if sub else {}, kind="subtotal"))
    rows.append(FormRow("", "合计", context["total"].values, kind="total"))
    form = context["form"]
    data = write_progress_form(
        title=f"{period.campaign.name}参保进度表", unit_name=f"{region.name}医疗保障局",
        as_of=period.as_of, due=period.due, columns=_columns(indicators), rows=rows,
        filer={k: getattr(form, f"filer_{k}").data or "" for k in FILER_FIELDS}, filled_on=context["filled_on"])
    return workbook_response(data, f"{region.name}{period.label}参保进度表.xlsx")


def workbook_response(data: bytes, name: str):
    """An .xlsx download under a Chinese file name."""
    import io
    return send_file(io.BytesIO(data), as_attachment=True, download_name=file_name(name),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<int:period_id>/<code>/upload", methods=["GET", "POST"])
@login_required
def upload(period_id: int, code: str):
    """Upload a filled .xlsx: the same validation, all or nothing, errors by row and column."""
    from reporting.filing.progress_workbook import read_progress_form
    period, region = load_grid(period_id, code, write=True)
    form = UploadForm()
    problems: list = []
    done, warnings = None, []
    if form.validate_on_submit():
        indicators = period.campaign.indicators
        try:
            data = form.workbook.data.read()
            parsed = read_progress_form(data, _columns(indicators),
                                        max_rows=upload_rows(period, region))
            foreign = foreign_form(region, [unit_code for _, unit_code, _ in parsed.rows])
            if foreign:
                raise TableError(foreign)
            units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
            rows = carry_rows(parsed.rows, carried_values(period, units, indicators, by_code=True))
            # the footer signs every row the file changes; a draft's footer may still be incomplete
            outcome = import_reports(
                period, [(line, unit_code, raw, {}) for line, unit_code, raw in rows],
                submit=form.submit_now.data, user=current_user, reason=form.reason.data,
                default_filer=parsed.filer, require_signature=form.submit_now.data, scope=region,
                source={"file": form.workbook.data.filename or "", "sha256": hashlib.sha256(data).hexdigest()})
        except TableError as error:
            problems = [RowIssue(None, "", None, str(error))]
        except ImportRejected as rejected:
            db.session.rollback()
            problems = _footer_once(rejected.errors)
        else:
            db.session.commit()
            done, warnings = outcome_message(outcome), outcome.warnings
            if not warnings:
                flash(done)
                return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    labels = {i.key: i.label for i in period.campaign.indicators}
    labels.update({"reason": "修改原因", **{f"filer.{k}": v for k, v in FILER_FIELDS.items()}})
    names = {unit_code: f"{township} · {name}" if township else name
             for unit_code, name, _, township in grid_units(period, region)} if warnings else {}
    status = 422 if problems or form.errors else 200
    return render_template("filing/upload.html", period=period, region=region, form=form,
                           problems=problems, labels=labels, done=done, warnings=warnings,
                           names=names), status


def upload_rows(period: Period, region: Region) -> int:
    """The most rows an upload for `region` may hold: its report-level units, plus room for a header,
    subtotals, notes and a footer."""
    units = db.session.scalar(descendants_at(region, period.campaign.report_level)
                              .with_only_columns(func.count(Region.id)))
    return units + units // 4 + 100


def _department_index():
    """A department's one-row form: the filer's own department, or the one an admin chose."""
    from reporting.models import Department
    department = (current_user.department if current_user.role == "department_filer" else
                  db.get_or_404(Department, id_arg("department") or 0, description="部门不存在"))
    if department is None:
        abort(404, "该账号没有绑定部门")
    if request.args.get("region", department.region.code) != department.region.code:
        abort(403, "部门填报员只能填报本部门的进度表")
    access.require_department(current_user, department, write=True)
    period = db.session.get(Period, id_arg("period") or 0)
    if period is None or period.campaign_id != department.campaign_id:
        period = current_period(department.campaign, clock.today())
    return redirect(url_for("departments.grid", department_id=department.id, period_id=period.id))


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
    from reporting.filing.progress_workbook import Column
    return [Column(i.key, i.label, i.part_of) for i in indicators]
