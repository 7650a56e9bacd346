"""The signed-in user's start page: a to-do list (待办), then their region, campaign and period."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from reporting import clock
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.circulars.reading import addressed, read_ids
from reporting.filing.filing import filing_status
from reporting.home.todo import department_todo, todo
from reporting.models import DUTY_ROLES

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    if current_user.role == "department_filer":
        return _department_home()
    if current_user.role in DUTY_ROLES:
        # 三员: administration only, none of the business's figures
        return render_template("home/duty.html")
    region = current_user.region
    campaigns = campaigns_for(region)
    campaign = campaigns[0] if campaigns else None
    today = clock.today()
    period = current_period(campaign, today) if campaign else None
    status = filing_status(period, region) if period else None
    circulars = addressed(current_user, limit=5)
    return render_template("home/index.html", region=region, campaign=campaign, period=period,
                           today=today, status=status, items=todo(current_user, campaign, period, clock.now()),
                           circulars=circulars, read=read_ids(current_user, circulars))


def _department_home():
    """A department filer's start page: its department, the current period and its report's state."""
    from reporting.departments.departments import department_progress
    department = current_user.department
    today = clock.today()
    period = current_period(department.campaign, today)
    standing = next((d for d in department_progress(period, department.region, clock.now())
                     if d.department.id == department.id), None) if period else None
    return render_template("home/department.html", department=department, campaign=department.campaign,
                           period=period, today=today, standing=standing,
                           items=department_todo(department, period, clock.now(), current_user))
