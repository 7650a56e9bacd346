"""A department's (条线) own 参保进度表: one row, filed through the same save_report as a unit's."""
from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user, login_required

from forms.filing import SubmitForm, UploadForm
from reporting import access, clock
from reporting.extensions import db
from reporting.filing import reviewed
from reporting.filing.filing import (
    FILER_FIELDS,
    ReportConflict,
    ReportRejected,
    closed_to,
    find_report,
    late_status,
    save_report,
)
from reporting.filing.filing import history as filing_history
from reporting.models import Department, Period
from reporting.spreadsheets import TableError
from reporting.web import go_to, page_or_fragment, period_or_404

bp = Blueprint("departments", __name__, url_prefix="/departments")


def load(department_id: int, period_id: int, write: bool = False) -> tuple[Department, Period]:
    """The department and period of a URL, after the one access check: like a unit's grid (and the
    API's GET of the same report), whoever sees the region it sits at reads it; its filer and an
    admin above it write it."""
    department = db.get_or_404(Department, department_id, description="部门不存在")
    access.require_department(current_user, department, write=write)
    period = period_or_404(period_id)
    if period.campaign_id != department.campaign_id:
        abort(404, f"该期次不属于{department.name}所在的征缴期")
    return department, period


def xlsx_code(department: Department) -> str:
    """The 单位代码 of a department's row in its workbook: 部门 and its id, never a division code."""
    return f"BM{department.id}"


def form_context(department: Department, period: Period, **extra) -> dict:
    report = find_report(period, department.region, department)
    indicators = department.indicators()
    form = extra.pop("form", None) or SubmitForm(data={
        f"filer_{k}": (getattr(report, f"filer_{k}") if report else "") or default
        for k, default in (("name", current_user.full_name), ("phone", current_user.phone), ("head", ""))})
    return dict(department=department, period=period, campaign=period.campaign, report=report,
                indicators=indicators, values=reviewed.shown_values(report, indicators),
                state=reviewed.status(report), locked=reviewed.is_locked(report),
                lock_message=reviewed.lock_message(report) if reviewed.is_locked(report) else "",
                form=form, periods=period.campaign.periods, now=clock.now(),
                late=late_status(report, period, clock.now()),
                read_only=closed_to(current_user, period.campaign, clock.today()),
                may_file=access.can_file_department(current_user, department),
                **{"errors": [], "warnings": [], "needs_ack": False, **extra})


@bp.get("/<int:department_id>/<int:period_id>")
@login_required
def grid(department_id: int, period_id: int):
    department, period = load(department_id, period_id)
    return page_or_fragment("departments/grid.html", "report_form", form_context(department, period))


@bp.post("/<int:department_id>/<int:period_id>")
@login_required
def save(department_id: int, period_id: int):
    """保存 (a draft, kept even with errors) or 提交 (after one acknowledgement of the warnings)."""
    department, period = load(department_id, period_id, write=True)
    form = SubmitForm()
    indicators = department.indicators()
    raw = {i.key: request.form[i.key] for i in indicators if i.key in request.form}
    submit = request.form.get("action") == "submit"
    filer = {k: (getattr(form, f"filer_{k}").data or "").strip() for k in FILER_FIELDS}

    def again(**extra):
        return page_or_fragment("departments/grid.html", "report_form",
                                form_context(department, period, form=form, **extra), 422)
    if not form.validate():
        return again(errors=[(name, message) for name, messages in form.errors.items() for message in messages])
    try:
        outcome = save_report(period, department.region, raw, filer, user=current_user, submit=submit,
                              reason=form.reason.data, revision=request.form.get("revision", type=int),
                              strict=submit, department=department)
    except ReportRejected as rejected:
        db.session.rollback()
        return again(errors=[(e.field, e.message) for e in rejected.errors],
                     warnings=[(w.field, w.message) for w in rejected.warnings], typed=raw)
    except ReportConflict as conflict:
        db.session.rollback()
        return again(errors=[(None, str(conflict))], typed=raw)
    if submit and outcome.warnings and not form.acknowledge.data:
        db.session.rollback()  # the warnings wait for one acknowledgement: nothing is kept yet
        return again(warnings=[(w.field, w.message) for w in outcome.warnings], needs_ack=True, typed=raw)
    db.session.commit()
    if not submit and outcome.warnings:
        # saved, and said at once what is doubtful, as a unit's row says it (not only at 提交)
        flash(f"已保存{department.name}{period.label}的进度表，请核实以下提示")
        return page_or_fragment("departments/grid.html", "report_form", form_context(
            department, period, warnings=[(w.field, w.message) for w in outcome.warnings]))
    flash(f"已{'提交' if submit else '保存'}{department.name}{period.label}的进度表")
    return go_to(url_for("departments.grid", department_id=department.id, period_id=period.id))


@bp.get("/<int:department_id>/<int:period_id>/history")
@login_required
def history(department_id: int, period_id: int):
    """Every revision of the department's report for the period, as a diff."""
    department, period = load(department_id, period_id)
    revisions = filing_history(period, (), department=department)
    return render_template("departments/history.html", department=department, period=period,
                           revisions=revisions, indicators=department.indicators(),
                           actions=reviewed.actions_of(find_report(period, department.region, department)))


@bp.get("/<int:department_id>/<int:period_id>/form.xlsx")
@login_required
def download(department_id: int, period_id: int):
    """The department's form as .xlsx in the 进度表 layout, with its current values."""
    from reporting.filing.progress_workbook import FormRow, write_progress_form
    from reporting.filing.views import _columns, workbook_response
    department, period = load(department_id, period_id)
    context = form_context(department, period)
    form = context["form"]
    indicators = context["indicators"]
    keys = {i.key for i in indicators}
    data = write_progress_form(
        title=f"{period.campaign.name}参保进度表", unit_name=department.name, as_of=period.as_of,
        due=period.due, columns=_columns(indicators),
        rows=[FormRow(xlsx_code(department), department.name, context["values"])],
        rate_of=next(((n, d) for n, d in (("enrolled", "should_enroll"), ("hardship_enrolled", "hardship_should"))
                      if n in keys and d in keys), None),
        filer={k: getattr(form, f"filer_{k}").data or "" for k in FILER_FIELDS}, filled_on=clock.today())
    return workbook_response(data, f"{department.name}{period.label}参保进度表.xlsx")


@bp.route("/<int:department_id>/<int:period_id>/upload", methods=["GET", "POST"])
@login_required
def upload(department_id: int, period_id: int):
    """Upload the filled .xlsx: its one row goes through the same save_report, all or nothing."""
    from reporting.filing.progress_workbook import read_progress_form
    from reporting.filing.views import _columns
    department, period = load(department_id, period_id, write=True)
    form = UploadForm()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            parsed = read_progress_form(form.workbook.data.read(), _columns(department.indicators()))
            rows = [raw for _, code, raw in parsed.rows if code == xlsx_code(department)]
            if len(rows) != 1:
                raise TableError(f"表中应有且只有一行单位代码为 {xlsx_code(department)}（{department.name}），"
                                 "请使用本系统下载的进度表")
            outcome = save_report(period, department.region, rows[0], parsed.filer, user=current_user,
                                  submit=form.submit_now.data, reason=form.reason.data, department=department)
        except TableError as error:
            problems = [str(error)]
        except (ReportRejected, ReportConflict) as refused:
            db.session.rollback()
            problems = [e.message for e in refused.errors] if isinstance(refused, ReportRejected) else [str(refused)]
        else:
            db.session.commit()
            flash(f"已导入{department.name}的数据" + ("并提交" if form.submit_now.data else "（草稿）")
                  + (f"，另有{len(outcome.warnings)}条提示请核实" if outcome.warnings else ""))
            return go_to(url_for("departments.grid", department_id=department.id, period_id=period.id))
    status = 422 if problems or form.errors else 200
    return render_template("departments/upload.html", department=department, period=period, form=form,
                           problems=problems), status

