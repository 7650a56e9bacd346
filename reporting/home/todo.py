"""A user's to-do list (待办): what waits for them, each item naming the page where they act on it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from reporting import access
from reporting.basis.system_figures import mismatch_text, unit_gaps, with_figures
from reporting.circulars import reading as circular_reading
from reporting.extensions import db
from reporting.filing import held
from reporting.filing.filing import department_statuses, filing_statuses
from reporting.models import LEVEL_NAMES, WRITER_ROLES, Campaign, Department, Period, Region, User
from reporting.reminders import reminders
from reporting.review import review
from reporting.supervision import supervision


@dataclass
class Item:
    #: overdue, draft, due, held, returned, reminder, circular, review, supervision or system
    #: (核实与信息系统的差异)
    kind: str
    text: str
    #: the endpoint and arguments of the page where the user acts on it
    endpoint: str
    args: dict = field(default_factory=dict)
    #: a longer text shown under the item (a 催报 as sent, a return's reason)
    detail: str = ""
    at: Optional[dt.datetime] = None


def todo(user: User, campaign: Optional[Campaign], current: Optional[Period], now: dt.datetime) -> list[Item]:
    region = user.region
    items: list[Item] = []
    if campaign is not None and user.role in WRITER_ROLES and campaign.root.contains(region):
        word = LEVEL_NAMES[campaign.report_level]
        grid = {"code": region.code}
        for report, state in review.returned_for(user):
            items.append(Item("returned", f"{report.region.name}{report.period.label}的报表已退回，请修改后重新提交",
                              "filing.grid", {**grid, "period_id": report.period_id, "_anchor": f"u-{report.region.code}"},
                              detail=f"退回原因：{state.reason}", at=state.at))
        if current is not None:
            unsaved = held.held_under(current, region)
            if unsaved:  # typing kept unsaved (an error, a missing 修改原因) waits for its filer
                items.append(Item("held", f"{current.label}有{len(unsaved):,}个{word}的输入尚未保存，请改正或放弃修改",
                                  "filing.grid", {**grid, "period_id": current.id,
                                                  "_anchor": f"u-{unsaved[0][0]}"}))
        # the current period and the three before it: older ones are for the dashboard, not a to-do
        periods = [p for p in campaign.periods
                   if current is None or current.seq - 4 < p.seq <= current.seq]
        statuses = filing_statuses(campaign, periods, region)
        for period in periods:
            status = statuses[period.id]
            args = {**grid, "period_id": period.id}
            if status.missing and period.is_overdue(now):
                items.append(Item("overdue", f"{period.label}已逾期，尚有{status.missing - status.draft:,}个{word}未填报"
                                  + (f"、{status.draft:,}个草稿未提交" if status.draft else ""), "filing.grid", args))
            elif status.draft:
                items.append(Item("draft", f"{period.label}有{status.draft:,}个{word}的草稿未提交", "filing.grid", args))
            elif period == current and status.missing:
                items.append(Item("due", f"{period.label}尚有{status.missing:,}个{word}未填报，"
                                  f"{period.due.month}月{period.due.day}日截止", "filing.grid", args))
        # the latest of these periods with the information system's figures
        having = with_figures([p.id for p in periods])
        latest = max((p for p in periods if p.id in having), key=lambda p: p.seq, default=None)
        gaps = unit_gaps(latest, region) if latest else {}
        if gaps:
            items.append(Item("system", f"核实与信息系统的差异：{latest.label}有{len(gaps):,}个{word}的已参保人数"
                              "与信息系统相差超过阈值", "filing.grid", {**grid, "period_id": latest.id},
                              detail="；".join(f"{name}{mismatch_text(t - s)}" for name, (t, s)
                                               in _named(gaps)[:10])))
    items.extend(supervision_todo(user, now.date()))
    for message in reminders.received(region, limit=5):
        reminder = message.reminder
        if current is not None and reminder.period.campaign_id != current.campaign_id:
            continue
        endpoint, args = (("filing.grid", {"period_id": reminder.period_id, "code": region.code})
                          if user.role in WRITER_ROLES else ("dashboard.show", {"code": region.code,
                                                                                "period": reminder.period_id}))
        items.append(Item("reminder", f"收到催报（{reminder.period.label}）", endpoint, args,
                          detail=message.text, at=reminder.at))
    for circular in circular_reading.unread(user, limit=10):
        items.append(Item("circular", f"未读通报：{circular.doc_number} {circular.title}（{circular.data_label}）",
                          "circulars.show", {"circular_id": circular.id}, at=circular.issued_at))
    if current is not None and access.can_review_under(user, region):
        waiting = sum(c.pending for c in review.review_counts(current, region).values())
        if waiting:
            items.append(Item("review", f"{current.label}有{waiting:,}份报表待审核", "review.show",
                              {"code": region.code, "period": current.id}))
    if current is not None and access.is_admin(user):
        for place, waiting in review.departments_pending(current, region):
            items.append(Item("review", f"{current.label}{place.name}有{waiting:,}个部门的报表待审核", "review.show",
                              {"code": place.code, "period": current.id}))
    return items


def _named(gaps: dict[int, tuple[int, int]]) -> list[tuple[str, tuple[int, int]]]:
    """The units of `gaps` by name, in code order."""
    units = db.session.execute(db.select(Region.id, Region.name).where(Region.id.in_(gaps)).order_by(Region.code))
    return [(name, gaps[region_id]) for region_id, name in units]



def supervision_todo(user: User, today: dt.date) -> list[Item]:
    """督办: the items the user's unit must answer, with a countdown to the 整改时限, and the 整改报告
    waiting for the user's 销号."""
    items = []
    for item in supervision.waiting_for(user):
        kind = "overdue" if item.is_overdue(today) else "supervision"
        items.append(Item(kind, f"{item.number}（{supervision.KINDS[item.kind]}）：{item.subject_name}须于"
                          f"{item.due.month}月{item.due.day}日前报送整改报告（{supervision.countdown(item, today)}）",
                          "supervision.show", {"item_id": item.id}, detail=item.matter))
    for item in supervision.awaiting_close(user):
        items.append(Item("review", f"{item.number}：{item.subject_name}已报送整改报告，待销号或退回",
                          "supervision.show", {"item_id": item.id}))
    return items


def department_todo(department: Department, current: Optional[Period] = None,
                    now: Optional[dt.datetime] = None, user: Optional[User] = None) -> list[Item]:
    """A department filer's to-do, as a county's: its 督办 items, its returned reports with their
    reasons, its overdue, draft and due periods (the current one and the three before it), and the 催报
    it received."""
    items = supervision_todo(user, now.date()) if user is not None and now is not None else []
    for report, state in review.returned_for_department(department):
        items.append(Item("returned", f"{report.period.label}的报表已退回，请修改后重新提交", "departments.grid",
                          {"department_id": department.id, "period_id": report.period_id},
                          detail=f"退回原因：{state.reason}", at=state.at))
    if current is not None and now is not None:
        periods = [p for p in department.campaign.periods if current.seq - 4 < p.seq <= current.seq]
        filed = department_statuses(department, periods)
        for period in periods:
            args = {"department_id": department.id, "period_id": period.id}
            status = filed.get(period.id)
            if status == "submitted":
                continue
            if period.is_overdue(now):
                items.append(Item("overdue", f"{period.label}已逾期，" + ("草稿尚未提交" if status == "draft" else "尚未报送"),
                                  "departments.grid", args))
            elif status == "draft":
                items.append(Item("draft", f"{period.label}的草稿尚未提交，{period.due.month}月{period.due.day}日截止",
                                  "departments.grid", args))
            elif period == current:
                items.append(Item("due", f"{period.label}尚未报送，{period.due.month}月{period.due.day}日截止",
                                  "departments.grid", args))
    for message in reminders.received(None, limit=5, department=department):
        reminder = message.reminder
        items.append(Item("reminder", f"收到催报（{reminder.period.label}）", "departments.grid",
                          {"department_id": department.id, "period_id": reminder.period_id},
                          detail=message.text, at=reminder.at))
    return items
