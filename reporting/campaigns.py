"""Setting up a campaign: its window, its form and its periods."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy.orm import contains_eager

from . import audit, cache
from .extensions import db
from .indicators import DEFAULT_FORM, build_indicators
from .models import LEVELS, Campaign, Region
from .schedule import build_periods

RHYTHMS = {"semimonthly": "半月报", "weekly": "周报"}
REPORT_LEVELS = ("village", "township", "county")


class CampaignError(ValueError):
    """A campaign that cannot be made as asked; the message says why in one line."""


def create_campaign(*, name: str, root: Region, start: dt.date, end: dt.date,
                    extend_to: Optional[dt.date] = None, rhythm: str = "semimonthly",
                    first_due: Optional[dt.date] = None, report_level: str = "village",
                    target_rate: float = 0.95, form=DEFAULT_FORM) -> tuple[Campaign, Optional[str]]:
    """Add a campaign with its indicators and periods; returns it and a calendar warning, if any."""
    if not name.strip():
        raise CampaignError("征缴期名称不能为空")
    if end < start:
        raise CampaignError(f"结束日期 {end} 早于开始日期 {start}")
    if extend_to is not None and extend_to < end:
        raise CampaignError(f"延长期 {extend_to} 早于结束日期 {end}")
    if rhythm not in RHYTHMS:
        raise CampaignError(f"报送频次应为 semimonthly 或 weekly，而不是 {rhythm}")
    if report_level not in REPORT_LEVELS:
        raise CampaignError(f"填报层级应为 village、township 或 county，而不是 {report_level}")
    if LEVELS.index(report_level) < LEVELS.index(root.level):
        raise CampaignError(f"填报层级 {report_level} 高于覆盖范围 {root.name}（{root.level}）")
    if not 0 < target_rate <= 1:
        raise CampaignError(f"目标参保率应在0到1之间，而不是 {target_rate}")
    if first_due is not None and first_due <= start:
        raise CampaignError(f"首个截止日期 {first_due} 应晚于开始日期 {start}")
    campaign = Campaign(name=name.strip(), root=root, start=start, end=end, extend_to=extend_to,
                        rhythm=rhythm, report_level=report_level, target_rate=target_rate,
                        interview_rules={})
    try:
        campaign.indicators = build_indicators(form)
        schedule = build_periods(campaign, first_due)
    except ValueError as error:
        raise CampaignError(str(error)) from None
    if not schedule.periods:
        raise CampaignError("按这些日期排不出任何报送期次")
    campaign.periods = schedule.periods
    db.session.add(campaign)
    db.session.flush()
    cache.bump(campaign)  # its version row: pages that now default to it change their tag
    audit.record("campaign.create", None, region=root, target=f"征缴期 {campaign.id} {campaign.name}",
                 after={"start": start.isoformat(), "end": end.isoformat(),
                        "extend_to": extend_to.isoformat() if extend_to else None, "rhythm": rhythm,
                        "report_level": report_level, "target_rate": target_rate,
                        "periods": len(campaign.periods)})
    return campaign, schedule.warning


def campaigns_for(region: Region) -> list[Campaign]:
    """Campaigns whose root is this region, one of its ancestors, or lies inside it, newest first:
    one query, by the ancestor ids the regions carry (no region loaded for each campaign)."""
    ids = [getattr(region, f"{level}_id") for level in LEVELS[:region.depth]] + [region.id]
    inside = Region.id == region.id if region.level == "village" else \
        getattr(Region, f"{region.level}_id") == region.id
    return list(db.session.scalars(
        db.select(Campaign).join(Region, Region.id == Campaign.root_id)
        .options(contains_eager(Campaign.root))  # the root, joined anyway: no query of its own later
        .where(db.or_(Campaign.root_id.in_([i for i in ids if i is not None]), inside))
        .order_by(Campaign.start.desc(), Campaign.id.desc())))
