"""Account administration (users in the admin's subtree), own password and tokens, the audit log."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from forms.admin import AuditFilterForm, ChangePasswordForm, EditUserForm, ResetPasswordForm, TokenForm, UserForm
from forms.campaigns import NextCampaignForm
from forms.holidays import HolidayNoticeForm, HolidayRemoveForm
from reporting import access, audit, clock
from reporting.accounts.accounts import (
    AccountError,
    create_token,
    create_user,
    end_sessions,
    locked_until,
    manageable,
    revoke_token,
    set_password,
    unlock,
    update_user,
    users_of,
)
from reporting.audit import KINDS, describe
from reporting.calendar import holidays
from reporting.calendar.schedule import shift_years
from reporting.campaigns.campaigns import CampaignError, campaigns_for, next_campaign, next_name
from reporting.extensions import db
from reporting.models import ROLES, ApiToken, AuditEntry, Campaign, DueChange, Period, Region, User
from reporting.regions.hierarchy import region_by_code
from reporting.web import go_to, id_arg, page_or_fragment

bp = Blueprint("admin", __name__)


def require_admin() -> None:
    """Account administration: the security admin (the city admin without 三员分立)."""
    access.require_capability(current_user, access.ACCOUNTS)


def load_user(user_id: int, capability: str = access.ACCOUNTS) -> User:
    """A user of the admin's subtree, for an admin holding `capability` (accounts, or the settings
    for a user's 催报 robots)."""
    access.require_capability(current_user, capability)
    user = db.get_or_404(User, user_id, description="用户不存在")
    if not current_user.region.contains(user.region):
        abort(403, "该用户不在您的管理范围内")
    return user


def region_in_scope(code: str, form_field) -> Region | None:
    region = region_by_code((code or "").strip())
    if region is None:
        form_field.errors.append(f"区划代码 {code} 不存在")
    elif not manageable(current_user, region):
        form_field.errors.append(f"只能选择{current_user.region.name}范围内的区划")
        region = None
    return region


@bp.route("/admin/users", methods=["GET", "POST"])
@login_required
def users():
    # a settings admin without account rights (三员分立) lists the users to reach their robots
    if request.method == "POST" or not access.can(current_user, access.SETTINGS):
        require_admin()
    form = UserForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            region = region_in_scope(form.region.data, form.region)
            if region is not None:
                try:
                    create_user(current_user, username=form.username.data.strip(), role=form.role.data,
                                region=region, password=form.password.data,
                                full_name=(form.full_name.data or "").strip(), phone=(form.phone.data or "").strip())
                    db.session.commit()
                    flash(f"已建立用户 {form.username.data}")
                    return redirect(url_for("admin.users"), code=303)
                except AccountError as error:
                    db.session.rollback()
                    form.password.errors.append(str(error))
        status = 422
    listed = db.session.scalars(users_of(current_user)).all()
    return render_template("admin/users.html", users=listed, form=form, now=clock.now(),
                           accounts=access.can(current_user, access.ACCOUNTS),
                           audit=access.can(current_user, access.AUDIT)), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):
    if request.method == "GET" and not access.can(current_user, access.ACCOUNTS):
        return robots_page(user_id)
    user = load_user(user_id)
    form = EditUserForm(obj=None, data=None if request.method == "POST" else {
        "full_name": user.full_name, "phone": user.phone, "role": user.role, "region": user.region.code,
        "active": user.active})
    if user.role == "department_filer":  # its department was bound on the command line; it keeps it
        form.role.choices = [*form.role.choices, SelectChoice("department_filer", ROLES["department_filer"])]
    reset = ResetPasswordForm(prefix="reset")
    status = 200
    if request.method == "POST":
        if form.validate():
            region = region_in_scope(form.region.data, form.region)
            if region is not None:
                try:
                    update_user(current_user, user, role=form.role.data, region=region,
                                full_name=(form.full_name.data or "").strip(),
                                phone=(form.phone.data or "").strip(), active=form.active.data)
                    db.session.commit()
                    flash(f"已保存用户 {user.username}")
                    return redirect(url_for("admin.users"), code=303)
                except AccountError as error:
                    db.session.rollback()
                    form.role.errors.append(str(error))
        status = 422
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc())).all()
    return render_template("admin/user.html", user=user, form=form, reset=reset, tokens=tokens,
                           token_form=TokenForm(prefix="token"), locked=locked_until(user, clock.now()),
                           accounts=True, settings=access.can(current_user, access.SETTINGS)), status


def robots_page(user_id: int):
    """A settings admin without account rights (三员分立) sees a user's 催报 robots only."""
    user = load_user(user_id, access.SETTINGS)
    return render_template("admin/user.html", user=user, accounts=False, settings=True)


@bp.post("/admin/users/<int:user_id>/unlock")
@login_required
def unlock_user(user_id: int):
    """解锁: the lock of 5 wrong passwords ends now rather than after 15 minutes."""
    user = load_user(user_id)
    unlock(current_user, user)
    db.session.commit()
    flash(f"已解锁用户 {user.username}")
    return go_to(url_for("admin.edit_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/sessions/end")
@login_required
def end_user_sessions(user_id: int):
    """强制退出: every browser signed in to the account is signed out."""
    user = load_user(user_id)
    end_sessions(current_user, user)
    db.session.commit()
    flash(f"已让用户 {user.username} 在所有设备上退出登录")
    return go_to(url_for("admin.edit_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/password")
@login_required
def reset_password(user_id: int):
    user = load_user(user_id)
    reset = ResetPasswordForm(prefix="reset")
    if reset.validate():
        try:
            set_password(current_user, user, reset.password.data)
            db.session.commit()
            flash(f"已重置 {user.username} 的密码，其已登录的会话和API令牌全部失效")
            return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
        except AccountError as error:
            db.session.rollback()
            flash(f"未重置：{error}")
    else:
        flash("未重置：请填写新密码")
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            if not current_user.check_password(form.current.data):
                form.current.errors.append("当前密码不正确")
            else:
                try:
                    set_password(current_user, current_user, form.password.data)
                    db.session.commit()
                    flash("密码已修改，原有的API令牌已全部撤销，请用新密码重新登录")
                    return redirect(url_for("auth.login"), code=303)
                except AccountError as error:
                    db.session.rollback()
                    form.password.errors.append(str(error))
        status = 422
    return render_template("admin/password.html", form=form), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """One's own API tokens; an admin also makes them for users of the subtree (from their page)."""
    form = TokenForm(prefix="token")
    new_token = None
    owner = current_user
    if request.method == "POST" and form.validate():
        if id_arg("user"):
            owner = load_user(id_arg("user"))
        new_token = create_token(current_user, owner, (form.label.data or "").strip())
        db.session.commit()
    listed = db.session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)
                                .order_by(ApiToken.created_at.desc())).all()
    return render_template("admin/tokens.html", tokens=listed, form=form, new_token=new_token, owner=owner)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    token = db.get_or_404(ApiToken, token_id, description="令牌不存在")
    try:
        revoke_token(current_user, token)
    except AccountError as error:
        abort(403, str(error))
    db.session.commit()
    flash("已撤销令牌")
    if token.user_id == current_user.id:
        return redirect(url_for("admin.tokens"), code=303)
    return redirect(url_for("admin.edit_user", user_id=token.user_id), code=303)


def audit_query(form: AuditFilterForm):
    """The entries the reader sees, narrowed by the filter form (region, user, kind, dates)."""
    top = current_user.region
    query = audit.scope(current_user)
    if form.validate():
        if form.region.data:
            region = region_by_code(form.region.data.strip())
            if region is None or not top.contains(region):
                abort(403, "该区划不在您的管理范围内")
            inner = Region.id if region.level == "village" else getattr(Region, f"{region.level}_id")
            query = query.where(AuditEntry.region_id.in_(select(Region.id).where(inner == region.id)))
        query = audit.filtered(query, since=form.since.data, until=form.until.data,
                               username=(form.user.data or "").strip(), kind=form.kind.data or "")
    return query


def note_read(kind: str, form: AuditFilterForm, count: int) -> None:
    """The audit admin's own reads of the log are audited (三员分立: the auditor is watched too)."""
    if current_user.role == "audit_admin":
        audit.record(kind, current_user, region=current_user.region, target="审计日志",
                     after={"filter": {k: str(v) for k, v in form.data.items() if v}, "count": count})
        db.session.commit()


@bp.get("/admin/audit")
@login_required
def audit_log():
    """The audit log of the reader's subtree, newest first, filtered by region, user, kind, dates."""
    access.require_capability(current_user, access.AUDIT)
    form = AuditFilterForm(request.args)
    entries = db.session.scalars(audit_query(form).order_by(AuditEntry.id.desc()).limit(300)).all()
    note_read("audit.read", form, len(entries))
    return render_template("admin/audit.html", entries=entries, form=form, kinds=KINDS, describe=describe)


@bp.get("/admin/audit.<any(csv, xlsx):fmt>")
@login_required
def audit_export(fmt: str):
    """The filtered log as CSV or XLSX, every matching entry (not only the 300 the page shows)."""
    access.require_capability(current_user, access.AUDIT)
    form = AuditFilterForm(request.args)
    rows = db.session.scalars(audit_query(form).order_by(AuditEntry.id.desc())
                              .execution_options(yield_per=1000))
    header = ["编号", "时间", "用户", "类型", "区划", "对象", "修改前", "修改后", "地址", "校验值"]
    table = [[e.id, e.at.isoformat(sep=" "), e.username, KINDS.get(e.kind, e.kind),
              e.region.name if e.region else "", e.target, describe(e.before), describe(e.after), e.ip,
              e.digest or ""] for e in rows]
    note_read("audit.export", form, len(table))
    stamp = clock.now().strftime("%Y%m%d%H%M")
    return spreadsheet_download(header, table, f"审计日志{stamp}.{fmt}", fmt)


def spreadsheet_download(header: list, rows: list, filename: str, fmt: str):
    """A table as a .csv (UTF-8 with BOM, which Excel reads) or .xlsx download; a cell starting
    with = + - @ is kept as text, never run as a formula."""
    import csv
    import io

    from flask import send_file

    from reporting.spreadsheets import file_name
    safe = [header] + [[("'" + c) if isinstance(c, str) and c[:1] in "=+-@" else c for c in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows(safe)
        data, mimetype = ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv"
    else:
        from openpyxl import Workbook
        book = Workbook(write_only=True)
        sheet = book.create_sheet("审计日志")
        for row in safe:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        data, mimetype = out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(data), as_attachment=True, download_name=file_name(filename), mimetype=mimetype)


# --- 节假日调整: the State Council's days for a year the official calendar does not know yet ---------

def require_calendar_admin() -> None:
    access.require_capability(current_user, access.SETTINGS)


def holiday_page(form: HolidayNoticeForm, year: int, notice=None, plan=None, status: int = 200):
    """The page of one year: what is entered, how it compares with the official data, and the
    due dates it moved; with a notice just read, what was understood and what saving would move."""
    today = clock.today()
    campaigns = campaigns_for(current_user.region)
    mine = {c.id for c in campaigns}
    overrides = holidays.overrides_of(year)
    moved = db.session.scalars(select(DueChange).join(Period).where(Period.campaign_id.in_(mine))
                               .order_by(DueChange.id.desc()).limit(50)).all()
    uncovered = {c: holidays.uncovered_periods(c, today) for c in campaigns}
    context = dict(
        form=form, year=year, overrides=overrides, official=holidays.official_knows(year),
        differences={d.day: d for d in holidays.differences(overrides)}, moved=moved,
        uncovered={c: years for c, years in uncovered.items() if years}, notice=notice,
        remove=HolidayRemoveForm(prefix="remove"), known_until=holidays.official_last_year(),
        changes=[c for c in plan.changes if c.period.campaign_id in mine] if plan else [],
        kept=[c for c in plan.kept if c.period.campaign_id in mine] if plan else [],
        others=sum(c.period.campaign_id not in mine for c in plan.changes) if plan else 0)
    return page_or_fragment("admin/holidays.html", "preview", context, status)


def default_holiday_year() -> int:
    """The first year the admin's campaigns need and nobody has entered, else this year."""
    today = clock.today()
    years = [y for c in campaigns_for(current_user.region) for y in holidays.uncovered_periods(c, today)]
    return min(years) if years else today.year


def moved_in_scope(plan) -> str:
    """The moved due dates of the admin's own campaigns, for a flash (other cities' are theirs)."""
    mine = {c.id for c in campaigns_for(current_user.region)}
    shown = [c.text for c in plan.changes if c.period.campaign_id in mine]
    return "报送截止日期调整：" + "；".join(shown) if shown else "本地区没有报送期次的截止日期需要调整"


@bp.get("/admin/holidays")
@login_required
def holidays_page():
    require_calendar_admin()
    year = request.args.get("year", type=int)
    year = year if year and 2000 <= year <= 2100 else default_holiday_year()
    return holiday_page(HolidayNoticeForm(data={"year": year}), year)


@bp.post("/admin/holidays/preview")
@login_required
def holiday_preview():
    """What the pasted lines say, and which due dates saving them would move; nothing is written."""
    require_calendar_admin()
    form = HolidayNoticeForm()
    if not form.validate():
        return holiday_page(form, _asked_year(form), status=422)
    notice = holidays.parse_notice(form.text.data, form.year.data)
    plan = holidays.plan_dues(holidays.with_days(notice.days()), clock.today()) if notice.days() else None
    status = 422 if notice.problems or not notice.days() else 200
    return holiday_page(form, form.year.data, notice=notice, plan=plan, status=status)


@bp.post("/admin/holidays")
@login_required
def holidays_save():
    require_calendar_admin()
    form = HolidayNoticeForm()
    if not form.validate():
        return holiday_page(form, _asked_year(form), status=422)
    notice = holidays.parse_notice(form.text.data, form.year.data)
    if notice.problems or not notice.days():
        return holiday_page(form, form.year.data, notice=notice, status=422)
    names = "、".join(line.name for line in notice.lines)
    try:
        outcome = holidays.enter_days(notice.days(), current_user, f"{form.year.data}年{names}", notice.notes())
        db.session.commit()
    except IntegrityError:  # another admin entered the same day at the same moment
        db.session.rollback()
        abort(409, "节假日安排刚被他人修改，请刷新页面后重试")
    flash(f"已保存{names}：{len(notice.days())}天（新增{outcome.added}，修改{outcome.updated}）；"
          + moved_in_scope(outcome.plan))
    return go_to(url_for("admin.holidays_page", year=form.year.data))


def _asked_year(form: HolidayNoticeForm) -> int:
    """The year a refused form's page shows: the one typed when it is one the page can show (a
    year of -5 or of twenty digits is the form's error, not a page to draw), else this year."""
    return form.year.data if form.year.data and not form.year.errors else clock.today().year


@bp.post("/admin/holidays/remove")
@login_required
def holiday_remove():
    require_calendar_admin()
    form = HolidayRemoveForm(prefix="remove")
    if not form.validate():
        abort(422, "请给出要删除的日期或年份")
    if form.year.data:
        year, what = form.year.data, f"{form.year.data}年"
        days = [o.day for o in holidays.overrides_of(year)]
    else:
        year, what = form.day.data.year, f"{form.day.data.month}月{form.day.data.day}日"
        days = [form.day.data]
    removed, plan = holidays.remove_days(days, current_user)
    db.session.commit()
    flash((f"已删除{what}的{removed}天调整" if removed else f"{what}没有录入的调整") + "；" + moved_in_scope(plan))
    return go_to(url_for("admin.holidays_page", year=year))


@bp.app_template_global("due_changes")
def due_changes_global(campaign) -> list:
    """For the home page: the campaign's moved due dates not yet past."""
    return holidays.due_changes(campaign, clock.today()) if campaign else []


@bp.app_template_global("uncovered_periods")
def uncovered_periods_global(campaign) -> dict:
    """For the home page: the periods whose year the official calendar does not know yet."""
    return holidays.uncovered_periods(campaign, clock.today()) if campaign else {}


@bp.app_template_global("can")
def can_global(capability: str) -> bool:
    """For the masthead: whether the signed-in user administers `capability` (access.CAPABILITIES)."""
    return access.can(current_user, capability)


# --- next year's campaign ----------------------------------------------------------------------

@bp.route("/admin/campaigns/<int:campaign_id>/next", methods=["GET", "POST"])
@login_required
def campaign_next(campaign_id: int):
    """下一年度征缴期: the same as `flask campaign next`, for a city admin above the campaign."""
    campaign = db.get_or_404(Campaign, campaign_id, description=f"征缴期 {campaign_id} 不存在")
    if not access.can_manage_campaign(current_user, campaign):
        abort(403, "只有覆盖该征缴期的市级管理员可以建立下一年度征缴期")
    form = NextCampaignForm()
    successor = db.session.scalar(select(Campaign).where(Campaign.previous_id == campaign.id).limit(1))
    status = 200
    if request.method == "POST" and form.validate():
        try:
            made, warning = next_campaign(campaign, (form.name.data or "").strip() or None,
                                          copy_targets=form.copy_targets.data, user=current_user)
            db.session.commit()
        except CampaignError as error:
            db.session.rollback()
            form.name.errors.append(str(error))
        else:
            flash(f"已建立{made.name}（{len(made.periods)}期）" + (f"；{warning}" if warning else "")
                  + ("" if form.copy_targets.data else "；请导入新年度的任务分解表"))
            return go_to(url_for("dashboard.show", code=made.root.code, period=made.periods[0].id))
    if request.method == "POST":
        status = 422
    try:
        suggested = next_name(campaign.name)
    except CampaignError:
        suggested = ""
    return render_template("admin/campaign_next.html", campaign=campaign, form=form, successor=successor,
                           suggested=suggested, start=shift_years(campaign.start, 1),
                           end=shift_years(campaign.end, 1),
                           extend_to=shift_years(campaign.extend_to, 1) if campaign.extend_to else None), status
