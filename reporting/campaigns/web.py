"""Loading the period a page asks about: the one in its URL, or the region's current one."""
from __future__ import annotations

from typing import Optional

from flask import abort

from reporting import clock
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.models import Period, Region
from reporting.web import period_or_404


def period_for(region: Region, period_id: Optional[int]) -> Period:
    """The period asked for (404 if unknown), or the current one of the region's latest campaign;
    either way one whose campaign covers the region."""
    if period_id:
        period = period_or_404(period_id)
    else:
        campaigns = campaigns_for(region)
        if not campaigns:
            abort(404, f"{region.name}目前没有征缴期")
        period = current_period(campaigns[0], clock.today())
    campaign = period.campaign
    if not campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    return period
