"""The reviewer's pages: 退回 and 审核通过 one unit or all of a region, and 催报 from the status board."""
from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from forms.review import ReminderForm, ReviewForm, WebhookForm
from reporting import access, clock
from reporting.basis.system_figures import mismatch_text, unit_gaps
from reporting.campaigns.web import period_for
from reporting.extensions import db
from reporting.filing import reviewed
from reporting.filing.filing import ReportConflict, ReportRejected, save_report
from reporting.models import LEVELS, Department, Period, Region, Report
from reporting.regions.hierarchy import children, region_by_code
from reporting.regions.views import region_or_404
from reporting.reminders import reminders
from reporting.review import review
from reporting.review.figures import unit_figures
from reporting.web import go_to, id_arg, page_or_fragment, period_or_404

bp = Blueprint("review", __name__)

#: below this level a review page lists the units themselves; above it, only its children's counts
UNIT_LIST_FROM = "county"


def load(code: str, period_id: int | None = None) -> tuple[Region, Period]:
    region = region_or_404(code)
    access.require(current_user, region)
    return region, period_for(region, period_id or id_arg("period"))


#: the review page's filters (?only=…)
FILTERS = {"warnings": "只看有提示的", "resubmitted": "只看重新提交的"}


def review_context(region: Region, period: Period, **extra) -> dict:
    campaign = period.campaign
    lists_units = LEVELS.index(region.level) >= LEVELS.index(UNIT_LIST_FROM)
    kids = children(region) if region.level != campaign.report_level else []
    counts = review.review_counts(period, region) if kids else {}
    units = review.units_to_review(period, region) if lists_units else []
    figures = unit_figures(period, region) if units else {}
    waiting = sum(1 for u in units if u.state == "submitted")  # what 全部审核通过 would approve
    only = request.args.get("only")
    if only == "warnings":
        units = [u for u in units if figures.get(u.region.id) and figures[u.region.id].warnings]
    elif only == "resubmitted":
        units = [u for u in units if u.resubmission is not None]
    return dict(region=region, period=period, campaign=campaign, kids=kids, counts=counts, units=units,
                figures=figures, waiting=waiting, only=only if only in FILTERS else None, filters=FILTERS,
                gaps=unit_gaps(period, region) if lists_units else {}, mismatch_text=mismatch_text,
                may_review_under=access.can_review_under(current_user, region),
                may_remind=access.can_remind(current_user, region),
                may_review=_per_township(lambda unit: access.can_review(current_user, unit)),
                indicators=campaign.indicators, states=review.STATES, form=ReviewForm(),
                departments=review.departments_to_review(period, region),
                may_review_department=lambda d: access.can_review_department(current_user, d),
                trail=[r for r in region.ancestors() if current_user.region.contains(r)],
                **{"problem": None, **extra})


def _per_township(check):
    """Who reviews a unit depends on its township only: ask once per township."""
    answers: dict = {}

    def ask(unit: Region) -> bool:
        if unit.township_id not in answers:
            answers[unit.township_id] = check(unit)
        return answers[unit.township_id]
    return ask


@bp.get("/review/<code>")
@login_required
def show(code: str):
    region, period = load(code)
    return page_or_fragment("review/show.html", "units", review_context(region, period))


def _refused(region: Region, period: Period, message: str, status: int):
    return page_or_fragment("review/show.html", "units", review_context(region, period, problem=message), status)


@bp.post("/review/<code>/<int:period_id>/units/<unit_code>")
@login_required
def act(code: str, period_id: int, unit_code: str):
    """退回 or 审核通过 one unit, then back to the review page."""
    region, period = load(code, period_id)
    unit = region_by_code(unit_code)
    if unit is None or not region.contains(unit):
        abort(404, "该单位不在本页")
    return _act_one(region, period, unit, unit.name)


@bp.post("/review/<code>/<int:period_id>/departments/<int:department_id>")
@login_required
def act_department(code: str, period_id: int, department_id: int):
    """退回 or 审核通过 the report of a department sitting at `code`, then back to the review page."""
    region, period = load(code, period_id)
    department = db.get_or_404(Department, department_id, description="部门不存在")
    if not access.can_review_department(current_user, department):
        raise Forbidden("只有上一级审核单位可以退回或审核该部门的报表")
    if department.region_id != region.id or department.campaign_id != period.campaign_id:
        abort(404, "该部门不在本页")
    return _act_one(region, period, region, department.name, department=department)


def _act_one(region: Region, period: Period, unit: Region, name: str, department: Department | None = None):
    """The form of one 退回 or 审核通过 on the review page of `region`: a unit's, or a department's."""
    form = ReviewForm()
    if not form.validate():
        return _refused(region, period, "；".join(e for errors in form.errors.values() for e in errors), 422)
    try:
        review.act(period, unit, form.action.data, current_user, form.reason.data, department=department)
    except review.ReviewInvalid as invalid:
        db.session.rollback()
        return _refused(region, period, str(invalid), 422)
    except review.ReviewRefused as refused:
        db.session.rollback()
        return _refused(region, period, str(refused), 409)
    except review.OwnFiling as own:
        db.session.rollback()
        return _refused(region, period, own.description, 403)
    db.session.commit()
    flash(f"已{'退回' if form.action.data == 'return' else '审核通过'}{name}的报表")
    return go_to(url_for("review.show", code=region.code, period=period.id))


@bp.post("/review/<code>/<int:period_id>/all")
@login_required
def act_all(code: str, period_id: int):
    """退回 or 审核通过 every submitted unit under `code`, in one transaction."""
    region, period = load(code, period_id)
    form = ReviewForm()
    back = request.args.get("back") or region.code
    if not form.validate():
        return _refused(region, period, "；".join(e for errors in form.errors.values() for e in errors), 422)
    try:
        outcome = review.act_all(period, region, form.action.data, current_user, form.reason.data)
    except review.ReviewInvalid as invalid:
        db.session.rollback()
        return _refused(region, period, str(invalid), 422)
    db.session.commit()
    flash(f"{region.name}：已{'退回' if form.action.data == 'return' else '审核通过'}{outcome.count}个单位的报表"
          + (f"；{len(outcome.skipped)}个单位的当前版本由您本人填报或修改，未处理："
             + "、".join(s["code"] for s in outcome.skipped[:20]) if outcome.skipped else ""))
    target = region_by_code(back)
    target = target if target is not None and access.can_view(current_user, target) else region
    return go_to(url_for("review.show", code=target.code, period=period.id))


@bp.post("/filing/<int:period_id>/<code>/units/<unit_code>/resubmit")
@login_required
def resubmit(period_id: int, code: str, unit_code: str):
    """重新提交 one returned unit from the grid, with the edits held for it: a new revision."""
    period = period_or_404(period_id)
    region, unit = region_by_code(code), region_by_code(unit_code)
    if region is None or unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    access.require(current_user, unit, write=True)
    if not ReminderForm().validate():
        abort(400, "请求有误，请刷新页面后重试")
    grid = url_for("filing.grid", period_id=period.id, code=region.code, _anchor=f"u-{unit.code}")
    if reviewed.status(db.session.scalar(select(Report).where(Report.period_id == period.id,
                                                            Report.region_id == unit.id))) != "returned":
        flash(f"{unit.name}的报表未退回，无需重新提交")
        return go_to(grid)
    try:
        save_report(period, unit, {}, {}, user=current_user, submit=True)
    except ReportRejected as rejected:
        db.session.rollback()
        flash(f"{unit.name}未能重新提交：" + "；".join(e.message for e in rejected.errors[:5]))
        return go_to(grid)
    except ReportConflict as conflict:
        db.session.rollback()
        flash(f"{unit.name}未能重新提交：{conflict}")
        return go_to(grid)
    db.session.commit()
    flash(f"已重新提交{unit.name}的报表")
    return go_to(grid)


@bp.post("/admin/users/<int:user_id>/webhooks")
@login_required
def webhook(user_id: int):
    """A settings admin (the city admin, or the system admin) sets the group robot that 催报 to a
    user's unit are posted to."""
    from reporting.accounts.admin import load_user
    user = load_user(user_id, access.SETTINGS)
    form = WebhookForm()
    if not form.validate():
        flash("；".join(e for errors in form.errors.values() for e in errors))
        return go_to(url_for("admin.edit_user", user_id=user.id))
    try:
        hook = reminders.set_webhook(current_user, user, form.kind.data, form.url.data, form.secret.data,
                                     form.mobiles.data)
    except ValueError as error:
        db.session.rollback()
        flash(str(error))
        return go_to(url_for("admin.edit_user", user_id=user.id))
    db.session.commit()
    flash(f"已{'设置' if hook else '删除'}{user.username}的{reminders.KINDS[form.kind.data]}")
    return go_to(url_for("admin.edit_user", user_id=user.id))


# --- 催报 -----------------------------------------------------------------------------------

@bp.get("/reminders/<code>")
@login_required
def reminder_list(code: str):
    """The 催报 sent to or under a region for a period, with each text to copy."""
    region, period = load(code)
    if reminders.settle_stale():
        db.session.commit()
    context = dict(region=region, period=period, sent=reminders.listed(period, region), form=ReminderForm(),
                   may_remind=access.can_remind(current_user, region), outcomes=reminders.OUTCOMES,
                   kinds=reminders.KINDS, shown_error=reminders.shown_error, owed=[o for o in reminders.outstanding(period, region) if o.count]
                   if region.level != period.campaign.report_level else [], now=clock.now())
    return page_or_fragment("reminders/index.html", "sent", context)


def preview_context(region: Region, period: Period, texts: dict | None = None, chosen=None,
                    errors: list | None = None) -> dict:
    """The 催报 that would go out now, with the texts and choices the reviewer made so far."""
    drafted = reminders.drafts(period, region, current_user, clock.now())
    texts = {d.code: d.text for d in drafted} | (texts or {})
    return dict(region=region, period=period, drafted=drafted, texts=texts, errors=errors or [],
                chosen=set(texts) if chosen is None else set(chosen), form=ReminderForm(),
                kinds=reminders.KINDS, limit=reminders.TEXT_LIMIT)


@bp.get("/reminders/<code>/<int:period_id>/preview")
@login_required
def reminder_preview(code: str, period_id: int):
    """一键催报, first step: each unit's text, to edit, and which units to send it to."""
    region, period = load(code, period_id)
    if not access.can_remind(current_user, region):
        raise Forbidden("只有上级审核单位可以催报")
    return page_or_fragment("reminders/preview.html", "preview", preview_context(region, period))


@bp.post("/reminders/<code>/<int:period_id>")
@login_required
def remind(code: str, period_id: int):
    """催报 the children of `code` with something outstanding: all of them as drafted, or those the
    preview chose with the texts as edited there; robots are sent to after the commit."""
    region, period = load(code, period_id)
    if not access.can_remind(current_user, region):
        raise Forbidden("只有上级审核单位可以催报")
    form = ReminderForm()
    if not form.validate():
        abort(400, "请求有误，请刷新页面后重试")
    edited = {key[len("text-"):]: value for key, value in request.form.items() if key.startswith("text-")}
    texts, chosen = None, []
    if edited:  # from the preview: the units chosen (or all shown) with their texts
        chosen = list(edited) if request.form.get("scope") == "all" else request.form.getlist("unit")
        texts = {code: edited[code] for code in chosen if code in edited}
    try:
        sent = reminders.send(period, region, current_user, texts=texts)
    except reminders.ReminderRejected as rejected:  # the preview again, as typed; nothing was written
        context = preview_context(region, period, edited, chosen, rejected.errors)
        return page_or_fragment("reminders/preview.html", "preview", context, status=422)
    if sent is None:
        flash(f"{region.name}下各单位{period.label}均已提交，无需催报")
    else:
        db.session.commit()
        reminders.deliver(sent)
        flash(f"已向{len(sent.messages)}个单位催报")
    return go_to(url_for("review.reminder_list", code=region.code, period=period.id))



bp.add_app_template_global(reviewed.shown_values, "shown_values")
bp.add_app_template_global(reviewed.is_locked, "report_locked")
bp.add_app_template_global(reminders.webhooks_of, "webhooks_of")
bp.add_app_template_global(WebhookForm, "WebhookForm")
bp.add_app_template_global(reminders.KINDS, "robot_kinds")
bp.add_app_template_global(reviewed.status, "report_state")
bp.add_app_template_global(review.wrote_current, "wrote_current")
