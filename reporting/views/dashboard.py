"""Supervision: the dashboard of a region, its ranking, its reporting status board and exports."""
from __future__ import annotations

import io

from flask import (Blueprint, abort, make_response, redirect, render_template, request, send_file,
                   url_for)
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import access, cache, clock
from .. import charts as chart_svg
from ..extensions import db
from ..hierarchy import region_by_code
from ..models import Period, Region, Report, User
from ..ranking import LATE_NAMES, LIGHTS, MEASURES
from ..rollup import totals_by_period
from ..schedule import time_progress
from ..spreadsheets import file_name, ranking_workbook
from . import page_or_fragment, period_for

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
    "late": ("报送", lambda r: ("on_time", "late", "missing").index(r.late)),
}


def load(code: str):
    """The region (after the access check) and the period asked for, or the current one."""
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    access.require(current_user, region)
    return region, period_for(region, request.args.get("period", type=int))


def sorted_rows(result, sort: str, direction: str):
    key = SORTS[sort][1]
    present = [r for r in result.children if key(r) is not None]
    absent = [r for r in result.children if key(r) is None]
    present.sort(key=key, reverse=direction == "desc")
    return present + absent  # units without a value stay at the bottom either way


def dashboard_context(region: Region, period: Period) -> dict:
    measure = request.args.get("measure") if request.args.get("measure") in MEASURES else None
    result = cache.progress(period, region, measure)
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "rank"
    direction = request.args.get("dir") if request.args.get("dir") in ("asc", "desc") else (
        "asc" if sort in ("rank", "name", "late") else "desc")
    top = current_user.region
    return dict(region=region, period=period, campaign=period.campaign, result=result,
                rows=sorted_rows(result, sort, direction), sort=sort, direction=direction,
                sorts=SORTS, measures=MEASURES, lights=LIGHTS, late_names=LATE_NAMES,
                trail=[r for r in region.ancestors() if top.contains(r)], now=clock.now(),
                today=clock.today())


def respond(block: str, context: dict):
    return page_or_fragment("dashboard/show.html", block, context)


@bp.get("/")
@login_required
def index():
    return redirect(url_for("dashboard.show", code=current_user.region.code))


@bp.get("/<code>")
@login_required
def show(code: str):
    region, period = load(code)
    context = dashboard_context(region, period)
    return respond("ranking", context)


@bp.get("/<code>/charts")
@login_required
def charts(code: str):
    """The dashboard's charts: alone for htmx (the page asks for them once loaded), or the page with them."""
    region, period = load(code)
    context = dashboard_context(region, period)
    context["charts"] = cache.charts(period, region, lambda: _charts(region, period, context["result"]))
    return respond("charts", context)


@bp.get("/<code>/missing")
@login_required
def missing(code: str):
    """The units that have not submitted, with whom to call: the reminder list."""
    region, period = load(code)
    result = cache.progress(period, region)
    behind = [r for r in result.children if r.late == "missing"]
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
    context = dict(region=region, period=period, behind=behind, filers=filers, now=clock.now())
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
    region, period = load(code)
    context = dashboard_context(region, period)
    data = ranking_workbook(context["result"], context["rows"])
    return send_file(io.BytesIO(data), as_attachment=True,
                     download_name=file_name(f"{region.name}{period.label}参保进度排名表.xlsx"),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _charts(region: Region, period: Period, result) -> dict:
    campaign = period.campaign
    periods = [p for p in campaign.periods if p.seq <= period.seq]
    sums = totals_by_period(periods, region, level=region.level)
    points = []
    for p in periods:
        totals = sums.get((region.id, p.id))
        points.append(chart_svg.ProgressPoint(label=f"{p.as_of.month}月{p.as_of.day}日",
                                           enrolled=totals.get("enrolled") if totals else None,
                                           rate=totals.rate if totals else None,
                                           time_progress=time_progress(campaign, p.as_of)))
    units = [(r.region.name, r.rate) for r in sorted(result.children, key=lambda r: r.region.code)]
    return {"progress": chart_svg.progress_chart(points, title=f"{region.name}累计参保进度"),
            "rates": chart_svg.rate_bars(units, target_rate=float(campaign.target_rate),
                                      time_progress=result.time_progress,
                                      title=f"{region.name}各地参保率")}
