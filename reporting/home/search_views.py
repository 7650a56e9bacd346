"""The top bar's unit search: by name or code, inside the user's scope, as an htmx dropdown or a page."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_required

from reporting import access, clock
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.extensions import db
from reporting.home.search import find_units, parents_of
from reporting.models import Region
from reporting.web import page_or_fragment

bp = Blueprint("search", __name__, url_prefix="/search")


def _grid_row(unit: Region, report_level: Optional[str], period_id: Optional[int]) -> Optional[str]:
    """For a filer, a report-level unit leads to its row of the grid the filer files."""
    if period_id is None or unit.level != report_level or not access.can_file(current_user, unit):
        return None
    own = current_user.region
    if own.level in ("county", "township"):
        grid = own
    else:  # a city admin files a county's grid on its behalf
        grid = db.session.get(Region, unit.county_id) if unit.county_id else None
        if grid is None:
            return None
    return url_for("filing.grid", period_id=period_id, code=grid.code, _anchor=f"u-{unit.code}")


@bp.get("/")
@login_required
def index():
    text = request.args.get("q", "")
    scope = current_user.region
    access.require(current_user, scope)  # a department filer sees its own department, no unit of the tree
    units = find_units(scope, text)
    campaigns = campaigns_for(scope)
    campaign = campaigns[0] if campaigns else None
    period = current_period(campaign, clock.today()) if campaign else None
    parents = parents_of(units)
    results = [dict(unit=unit, parent=parents.get(unit.parent_id), href=(
        _grid_row(unit, campaign.report_level if campaign else None, period.id if period else None)
        or url_for("dashboard.show", code=unit.code))) for unit in units]
    if len(results) == 1 and not request.htmx:
        # one match: straight there (the unit's row of the grid, or its dashboard), as Enter in the top bar means
        return redirect(results[0]["href"], code=303)
    return page_or_fragment("search/index.html", "results", dict(q=text, results=results))
