"""Supervision: the dashboard of a region, its ranking, its reporting status board and exports."""
from __future__ import annotations

import io

from flask import Blueprint, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from reporting import access, clock
from reporting.campaigns.web import period_for
from reporting.departments.departments import department_progress
from reporting.extensions import db
from reporting.filters import LATE_NAMES
from reporting.models import Period, Region, Report, User
from reporting.progress import cache
from reporting.progress import charts as chart_svg
from reporting.progress.ranking import LIGHTS, MEASURES
from reporting.progress.ranking_workbook import ranking_workbook
from reporting.regions.views import region_or_404
from reporting.reminders import reminders
from reporting.review import review
from reporting.spreadsheets import file_name
from reporting.supervision import supervision
from reporting.web import id_arg, page_or_fragment, tagged, tagged_region, unchanged

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

#: sortable columns of the ranking table: key -> (heading, value of a row)
SORTS = {
    "rank": ("排名", lambda r: r.rank),
    "name": ("单位", lambda r: r.region.code),
    "task": ("任务数", lambda r: r.task),
    "enrolled": ("已参保人数", lambda r: r.enrolled),
    "rate": ("参保率", lambda r: r.rate),
    "completion": ("完成率", lambda r: r.completion),
    "increase": ("较上期", lambda r: r.increase),
    "hardship": ("困难群众参保率", lambda r: r.hardship_coverage),
    "late": ("报送", lambda r: ("on_time", "late", "pending", "missing").index(r.late)),
    "forecast": ("预计期末完成率", lambda r: r.forecast.projected),
}


def load(code: str):
    """The region (after the access check) and the period asked for, or the current one."""
    region = region_or_404(code)
    access.require(current_user, region)
    return region, period_for(region, id_arg("period"))


def sorted_rows(result, sort: str, direction: str):
    key = SORTS[sort][1]
    present = [r for r in result.children if key(r) is not None]
    absent = [r for r in result.children if key(r) is None]
    present.sort(key=key, reverse=direction == "desc")
    return present + absent  # units without a value stay at the bottom either way


def asked_measure():
    """The ranking measure the URL asks for, or None for the campaign's own."""
    return request.args.get("measure") if request.args.get("measure") in MEASURES else None


def dashboard_context(region: Region, period: Period) -> dict:
    result = cache.progress(period, region, asked_measure())
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "rank"
    direction = request.args.get("dir") if request.args.get("dir") in ("asc", "desc") else (
        "asc" if sort in ("rank", "name", "late") else "desc")
    top = current_user.region
    return dict(region=region, period=period, campaign=period.campaign, result=result,
                departments=department_progress(period, region, clock.now()),
                rows=sorted_rows(result, sort, direction), sort=sort, direction=direction,
                sorts=SORTS, measures=MEASURES, lights=LIGHTS, late_names=LATE_NAMES,
                trail=[r for r in region.ancestors() if top.contains(r)], now=clock.now(),
                today=clock.today())


def respond(block: str, context: dict):
    if not request.htmx:  # the whole page, with its status board
        context.update(board(context["region"], context["period"]))
    return page_or_fragment("dashboard/show.html", block, context)


@bp.get("/")
@login_required
def index():
    access.require_business(current_user)
    if current_user.role == "department_filer":  # it supervises nobody: its start page
        return redirect(url_for("home.index"))
    return redirect(url_for("dashboard.show", code=current_user.region.code))


@bp.get("/<code>")
@login_required
def show(code: str):
    region, tag = tagged_region(code, current_user)
    if (same := unchanged(tag)) is not None:
        return same
    period = period_for(region, id_arg("period"))
    context = dashboard_context(region, period)
    return tagged(respond("ranking", context), tag)


def board(region: Region, period: Period) -> dict:
    """What the status board adds to the page: review counts, 催报 sent, changes after the last 通报."""
    changes = review.after_publication(review.last_issued(period, region))
    def under(units):  # noqa: E306
        found: dict[int, int] = {}
        for unit in units:
            for child_id in (unit.id, unit.parent_id, unit.township_id, unit.county_id, unit.city_id):
                found[child_id] = found.get(child_id, 0) + 1
        return found
    return dict(review_counts=review.review_counts(period, region), chased=reminders.chased(period, region),
                department_chased=reminders.chased_departments(period, region),
                corrected=under(changes.corrected), late_filed=under(changes.late_filed), changes=changes,
                may_review=access.can_review_under(current_user, region) or access.can_remind(current_user, region),
                may_load_system=access.can_load_system_figures(current_user, period.campaign.root),
                supervised=supervision.counts_by_child(region, clock.today()),
                supervision_items=[i for i in supervision.items_about(region, None, clock.today())
                                   if i.status != "closed"][:10],
                may_supervise=lambda unit: access.can_supervise(current_user, unit),
                may_plan_next=region.id == period.campaign.root_id and access.can_manage_campaign(
                    current_user, period.campaign))


@bp.get("/<code>/charts")
@login_required
def charts(code: str):
    """The dashboard's charts: alone for htmx (the page asks for them once loaded), or the page with them."""
    region, tag = tagged_region(code, current_user)
    if (same := unchanged(tag)) is not None:
        return same
    period = period_for(region, id_arg("period"))
    if not request.htmx:
        context = dashboard_context(region, period)
        context["charts"] = cache.charts(period, region, lambda: _charts(region, period, context["result"]))
        return tagged(respond("charts", context), tag)
    # the fragment needs the charts alone: no ranking, no board
    drawn = cache.charts(period, region, lambda: _charts(region, period, cache.progress(period, region, asked_measure())))
    return tagged(respond("charts", dict(region=region, period=period, charts=drawn)), tag)


@bp.get("/<code>/missing")
@login_required
def missing(code: str):
    """The units that have not submitted, with whom to call: the reminder list."""
    region, period = load(code)
    result = cache.progress(period, region)
    behind = [r for r in result.children if r.late in ("missing", "pending")]
    ids = [r.region.id for r in behind]
    filers = {}
    for user in db.session.scalars(select(User).where(User.region_id.in_(ids), User.active.is_(True),
                                                      User.role.in_(("county_filer", "township_filer")))):
        filers.setdefault(user.region_id, []).append((user.full_name or user.username, user.phone))
    # who signed the last report, when no account is bound to the unit itself
    for report in db.session.scalars(select(Report).where(Report.region_id.in_(ids))
                                     .order_by(Report.updated_at)):
        if report.filer_name and report.region_id not in filers:
            filers.setdefault(report.region_id, []).append((report.filer_name, report.filer_phone))
    # the departments sitting here that have not submitted, with their own filers
    departments = [d for d in department_progress(period, region, clock.now()) if d.late in ("missing", "pending")]
    department_filers: dict[int, list] = {}
    for user in db.session.scalars(select(User).where(
            User.department_id.in_([d.department.id for d in departments]), User.active.is_(True))):
        department_filers.setdefault(user.department_id, []).append((user.full_name or user.username, user.phone))
    context = dict(region=region, period=period, behind=behind, filers=filers, now=clock.now(),
                   departments=departments, department_filers=department_filers,
                   overdue=result.overdue)
    if request.htmx:
        body = render_template("dashboard/_missing.html", **context)
    else:
        body = render_template("dashboard/missing.html", **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


@bp.get("/<code>/ranking.xlsx")
@login_required
def export(code: str):
    """The table as shown (same sort), as a 排名表 workbook."""
    region, tag = tagged_region(code, current_user)
    if (same := unchanged(tag)) is not None:
        return same
    period = period_for(region, id_arg("period"))
    context = dashboard_context(region, period)
    data = ranking_workbook(context["result"], context["rows"], context["departments"])
    return tagged(send_file(io.BytesIO(data), as_attachment=True, etag=False, conditional=False,
                            download_name=file_name(f"{region.name}{period.label}参保进度排名表.xlsx"),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), tag)


def _charts(region: Region, period: Period, result) -> dict:
    return chart_svg.progress_charts(result, region.name)
