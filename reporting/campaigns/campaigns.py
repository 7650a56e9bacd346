"""Setting up a campaign: its window, its form and its periods."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from sqlalchemy.orm import contains_eager

from reporting import audit, versions
from reporting.calendar.schedule import build_periods, shift_years
from reporting.extensions import db
from reporting.indicators import DEFAULT_FORM, build_indicators
from reporting.models import LEVELS, Campaign, Department, Indicator, Region, Target, User

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
    versions.bump(campaign)  # its version row: pages that now default to it change their tag
    audit.record("campaign.create", None, region=root, target=f"征缴期 {campaign.id} {campaign.name}",
                 after={"start": start.isoformat(), "end": end.isoformat(),
                        "extend_to": extend_to.isoformat() if extend_to else None, "rhythm": rhythm,
                        "report_level": report_level, "target_rate": target_rate,
                        "periods": len(campaign.periods)})
    return campaign, schedule.warning


def link_previous(campaign: Campaign, previous: Campaign, user: Optional[User] = None) -> None:
    """Make `previous` the campaign whose figures are this one's 上年同期."""
    if previous.id == campaign.id:
        raise CampaignError("征缴期不能以自己为上一年度")
    if previous.start >= campaign.start:
        raise CampaignError(f"上一年度征缴期“{previous.name}”开始于{previous.start}，不早于本征缴期的{campaign.start}")
    if previous.root_id != campaign.root_id and not (previous.root.contains(campaign.root)
                                                     or campaign.root.contains(previous.root)):
        raise CampaignError(f"上一年度征缴期“{previous.name}”的覆盖范围{previous.root.name}与{campaign.root.name}不相交")
    campaign.previous = previous
    db.session.flush()
    audit.record("campaign.link_previous", user, region=campaign.root,
                 target=f"征缴期 {campaign.id} {campaign.name}", after={"previous_id": previous.id})


def next_name(name: str) -> str:
    """The name of next year's campaign: every year in it one later (江门市2023年度 → 江门市2024年度)."""
    renamed, count = re.subn(r"(?<!\d)(?:19|20)\d{2}(?!\d)", lambda m: str(int(m.group()) + 1), name)
    if not count:
        raise CampaignError(f"征缴期名称“{name}”中没有年份，请用 --name 指定新征缴期的名称")
    return renamed


def next_campaign(previous: Campaign, name: Optional[str] = None, copy_targets: bool = False,
                  user: Optional[User] = None) -> tuple[Campaign, Optional[str]]:
    """Next year's campaign from `previous`: the same root, rhythm, report level, form, departments,
    约谈 rules, target rate, 期号 line, standing requirements and 自动催报; every date one year later,
    the due dates worked out again with that year's calendar (节假日顺延 and the entered days).
    任务数 only with `copy_targets`: a new year's 任务分解表 is usually imported."""
    taken = db.session.scalar(db.select(Campaign).where(Campaign.previous_id == previous.id).limit(1))
    if taken is not None:
        raise CampaignError(f"征缴期“{previous.name}”已有下一年度征缴期“{taken.name}”（编号{taken.id}）")
    first = previous.periods[0] if previous.periods else None
    campaign, warning = create_campaign(
        name=name if name is not None else next_name(previous.name), root=previous.root,
        start=shift_years(previous.start, 1), end=shift_years(previous.end, 1),
        extend_to=shift_years(previous.extend_to, 1) if previous.extend_to else None,
        rhythm=previous.rhythm, first_due=shift_years(first.nominal_due, 1) if first else None,
        report_level=previous.report_level, target_rate=float(previous.target_rate),
        form=[(i.key, i.label, i.part_of) for i in previous.indicators])
    # the form as it was, column for column: department-only indicators keep their value columns
    slots = {i.key: (i.position, i.slot) for i in previous.all_indicators}
    for indicator in campaign.indicators:
        indicator.position, indicator.slot = slots[indicator.key]
    for old in previous.all_indicators:
        if old.departments_only:
            db.session.add(Indicator(campaign_id=campaign.id, key=old.key, label=old.label, part_of=old.part_of,
                                     position=old.position, slot=old.slot, departments_only=True))
    campaign.interview_rules = dict(previous.interview_rules or {})
    campaign.requirements = previous.requirements
    campaign.auto_remind_hours = previous.auto_remind_hours
    campaign.circular_issue_line = previous.circular_issue_line
    campaign.previous = previous
    for department in db.session.scalars(db.select(Department).where(Department.campaign_id == previous.id)
                                         .order_by(Department.position, Department.id)):
        db.session.add(Department(campaign_id=campaign.id, region_id=department.region_id, name=department.name,
                                  indicator_keys=list(department.indicator_keys), measure=department.measure,
                                  task=department.task if copy_targets else None, position=department.position))
    if copy_targets:
        for target in db.session.scalars(db.select(Target).where(Target.campaign_id == previous.id)):
            db.session.add(Target(campaign_id=campaign.id, region_id=target.region_id, task=target.task,
                                  population=target.population, should_enroll=target.should_enroll))
    db.session.flush()
    db.session.expire(campaign, ["all_indicators", "indicators"])
    audit.record("campaign.next", user, region=campaign.root, target=f"征缴期 {campaign.id} {campaign.name}",
                 after={"previous_id": previous.id, "copy_targets": copy_targets})
    return campaign, warning


def campaign_json(campaign: Campaign) -> dict:
    """The answer of GET /api/v1/campaigns/{id} (API.md)."""
    return {"id": campaign.id, "name": campaign.name, "root_code": campaign.root.code,
            "start": campaign.start.isoformat(), "end": campaign.end.isoformat(),
            "extend_to": campaign.extend_to.isoformat() if campaign.extend_to else None,
            "rhythm": campaign.rhythm, "report_level": campaign.report_level,
            "previous_id": campaign.previous_id}


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
