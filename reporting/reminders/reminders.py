"""催报: one message per unit with something outstanding, recorded, shown to it, and posted to its group robots.

A message goes to the robots (企业微信群机器人, 钉钉自定义机器人) through the job queue with retries;
without Redis the same sending runs at once. The automatic 催报 before a deadline may run on every
instance: a unique constraint lets one message per unit and period through, however many try.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, replace
from typing import Optional

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from reporting import audit, clock, jobs, outages, outbound, versions
from reporting.departments.departments import departments_at, departments_under
from reporting.extensions import db
from reporting.filters import month_day
from reporting.models import (
    LEVEL_NAMES,
    Campaign,
    Delivery,
    Department,
    Period,
    Region,
    Reminder,
    ReminderMessage,
    Report,
    Review,
    User,
    Webhook,
    child_level,
)
from reporting.regions.issuers import issuing_body

KINDS = {"wecom": "企业微信群机器人", "dingtalk": "钉钉自定义机器人"}
OUTCOMES = {"queued": "待发送", "sent": "已发送", "failed": "发送失败"}
#: how often a robot is tried, and how long each try may take (seconds); settable in the app config
ATTEMPTS, TIMEOUT, RETRY_SECONDS = 3, 5.0, (10, 60)


@dataclass
class Outstanding:
    """The report-level units under one unit that still owe the period's form, or a department (条线)
    sitting at `region` that owes its own."""
    region: Region
    units: int
    missing: int
    draft: int
    returned: int
    department: Optional[Department] = None
    #: it owes its own form (a department, or a unit at the report level, such as a town that files)
    own: bool = False

    @property
    def count(self) -> int:
        return self.missing + self.draft + self.returned

    @property
    def name(self) -> str:
        return self.department.name if self.department else self.region.name

    @property
    def code(self) -> str:
        """The unit's division code, or a department's 单位代码 in its workbook (BM and its id)."""
        return f"BM{self.department.id}" if self.department else self.region.code


def outstanding(period: Period, region: Region) -> list[Outstanding]:
    """Per child of `region` (or `region` itself when it files): 未报, draft and 已退回 units. One GROUP BY."""
    campaign = period.campaign
    level = child_level(region.level) if region.level != campaign.report_level else region.level
    group = (Region.id if level == "village" else getattr(Region, f"{level}_id")).label("unit_id")
    scope = (Region.id if region.level == "village" else getattr(Region, f"{region.level}_id")) == region.id
    query = (select(group, func.count(Region.id),
                    func.count(case((Report.id.is_(None), 1))),
                    func.count(case((Report.status == "draft", 1))),
                    func.count(case((Review.state == "returned", 1))))
             .select_from(Region)
             .outerjoin(Report, (Report.region_id == Region.id) & (Report.period_id == period.id))
             .outerjoin(Review, Review.report_id == Report.id)
             .where(Region.level == campaign.report_level, scope).group_by(group))
    rows = {row[0]: row[1:] for row in db.session.execute(query)}
    units = db.session.scalars(select(Region).where(Region.id.in_(rows)).order_by(Region.code))
    return [Outstanding(unit, *rows[unit.id], own=unit.level == campaign.report_level)
            for unit in units] + departments_outstanding(period, region)


def departments_outstanding(period: Period, region: Region) -> list[Outstanding]:
    """The departments sitting at `region` that have not submitted the period (未报, draft) or stand returned."""
    departments = departments_at(period.campaign, region)
    reports = {row[0]: row[1:] for row in db.session.execute(
        select(Report.department_id, Report.status, Review.state).outerjoin(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.department_id.in_([d.id for d in departments])))}
    owed = []
    for department in departments:
        status, state = reports.get(department.id, (None, None))
        owed.append(Outstanding(region, 1, int(status is None), int(status == "draft"), int(state == "returned"),
                                department=department, own=True))
    return owed


def sender_name(region: Region) -> str:
    return issuing_body(region).name


#: a township's government by the ending of its name: 镇、乡 → 人民政府, 街道 → 办事处
TOWNSHIP_OFFICES = (("人民政府", ""), ("办事处", ""), ("街道", "办事处"), ("镇", "人民政府"), ("乡", "人民政府"))


def addressee(owed: Outstanding) -> str:
    """Whom a 催报 is addressed to: a city's or county's 医疗保障局 (台山市医疗保障局), a town's
    人民政府 or a 街道's 办事处; a department, a village and any other unit by its own name."""
    if owed.department is not None:
        return owed.department.name
    region = owed.region
    if region.level in ("province", "city", "county"):
        return sender_name(region)
    if region.level == "township":
        ending = next((added for end, added in TOWNSHIP_OFFICES if region.name.endswith(end)), "")
        return region.name + ending
    return region.name


def draft_text(period: Period, owed: Outstanding, sender: str, now: dt.datetime) -> str:
    """【催报】恩平市医疗保障局：第5期参保进度表报送截止12月1日（还有1天），尚有23个村（社区）未报送，请于截止前报送。江门市医疗保障局"""
    days = (period.due - now.date()).days
    left = f"还有{days}天" if days > 0 else "今天截止" if days == 0 else f"已逾期{-days}天"
    word = LEVEL_NAMES[period.campaign.report_level]
    if owed.own:
        what = {True: "报表已退回，尚未重新提交"}.get(bool(owed.returned), "尚未提交" if owed.draft else "尚未报送")
    else:
        what = f"尚有{owed.count}个{word}未报送"
        parts = [f"{label}{n}个" for label, n in (("草稿未提交", owed.draft), ("已退回待重新提交", owed.returned)) if n]
        if parts:
            what += f"（其中{'、'.join(parts)}）"
    ask = "请于截止前报送" if days >= 0 else "请尽快报送"
    return (f"【催报】{addressee(owed)}：第{period.seq}期参保进度表报送截止{month_day(period.due)}（{left}），"
            f"{what}，{ask}。{sender}")


def department_contacts(department_ids: list[int]) -> dict[int, dict]:
    """Whom to call at each department: its filer account, else who signed its last report."""
    found: dict[int, dict] = {}
    for user in db.session.scalars(select(User).where(
            User.department_id.in_(department_ids), User.active.is_(True),
            User.role == "department_filer").order_by(User.id)):
        found.setdefault(user.department_id, {"name": user.full_name or user.username, "phone": user.phone})
    for report in db.session.scalars(select(Report).where(Report.department_id.in_(
            [i for i in department_ids if i not in found])).order_by(Report.updated_at)):
        if report.filer_name:
            found[report.department_id] = {"name": report.filer_name, "phone": report.filer_phone}
    return found


def contacts(region_ids: list[int]) -> dict[int, dict]:
    """Whom to call at each unit: its filer account, else who signed its last report."""
    found: dict[int, dict] = {}
    for user in db.session.scalars(select(User).where(
            User.region_id.in_(region_ids), User.active.is_(True),
            User.role.in_(("county_filer", "township_filer"))).order_by(User.id)):
        found.setdefault(user.region_id, {"name": user.full_name or user.username, "phone": user.phone})
    missing = [i for i in region_ids if i not in found]
    if missing:
        for report in db.session.scalars(select(Report).where(Report.region_id.in_(missing))
                                         .order_by(Report.updated_at)):
            if report.filer_name:
                found[report.region_id] = {"name": report.filer_name, "phone": report.filer_phone}
    return found


def _webhooks(region_ids: list[int], department_ids: tuple = ()) -> dict[tuple[str, int], list[Webhook]]:
    """("region", id) or ("department", id) -> the group robots of that unit's or department's accounts.
    A department filer's account sits at its department's region, so it is found by its department."""
    found: dict[tuple[str, int], list[Webhook]] = {}
    for hook in db.session.scalars(select(Webhook).join(User, User.id == Webhook.user_id).where(
            User.region_id.in_(region_ids), User.role != "department_filer", User.active.is_(True))
            .order_by(Webhook.id)):
        found.setdefault(("region", hook.user.region_id), []).append(hook)
    for hook in db.session.scalars(select(Webhook).join(User, User.id == Webhook.user_id).where(
            User.department_id.in_(department_ids), User.role == "department_filer", User.active.is_(True))
            .order_by(Webhook.id)):
        found.setdefault(("department", hook.user.department_id), []).append(hook)
    return found


@dataclass
class Draft:
    """One 催报 as it would go out: the unit (or department) owing, the text, whom to call, the robots."""
    owed: Outstanding
    text: str
    contact: dict
    hooks: list[Webhook]

    @property
    def code(self) -> str:
        return self.owed.code

    @property
    def name(self) -> str:
        return self.owed.name

    def as_json(self) -> dict:
        """A unit of a 催报 not sent (dry run): the fields of `message_json`, each robot named as unsent."""
        department = self.owed.department
        return {"code": self.code, "name": self.name, "outstanding": self.owed.count,
                **({"department_id": department.id} if department else {}),
                "contact": self.contact, "text": self.text,
                "channels": [{"kind": hook.kind, "outcome": "not_sent", "attempts": 0, "error": ""}
                             for hook in self.hooks]}


#: the longest text a reviewer may write into one 催报 (the one limit of free text)
TEXT_LIMIT = 500


def drafts(period: Period, region: Region, user: Optional[User], now: dt.datetime) -> list[Draft]:
    """The messages a 催报 of `region` would send now, one per child with something outstanding;
    nothing is written."""
    owed = [o for o in outstanding(period, region) if o.count]
    if not owed:
        return []
    # signed by the sender's bureau (the city chasing a county's townships is still the city)
    sender = sender_name(user.region if user is not None and user.region.contains(region) else
                         region if region.level != period.campaign.report_level else region.parent)
    units = [o for o in owed if o.department is None]
    departments = [o.department.id for o in owed if o.department is not None]
    people = contacts([o.region.id for o in units])
    desks = department_contacts(departments)
    hooks = _webhooks([o.region.id for o in units], departments)
    found = []
    for unit in owed:
        key = ("department", unit.department.id) if unit.department else ("region", unit.region.id)
        found.append(Draft(unit, draft_text(period, unit, sender, now),
                           (desks if unit.department else people).get(key[1], {"name": "", "phone": ""}),
                           hooks.get(key, [])))
    return found


class ReminderRejected(ValueError):
    """Texts a reviewer edited that cannot be sent; `errors` name the units (nothing was written)."""

    def __init__(self, errors: list[str]):
        super().__init__("；".join(errors))
        self.errors = errors


def text_errors(texts: dict[str, str], names: dict[str, str]) -> list[str]:
    """What is wrong with the texts a reviewer chose and edited (code -> text), each naming its unit."""
    if not texts:
        return ["请至少勾选一个单位"]
    errors = []
    for code, text in texts.items():
        if not text.strip():
            errors.append(f"{names.get(code, code)}的催报内容不能为空")
        elif len(text.strip()) > TEXT_LIMIT:
            errors.append(f"{names.get(code, code)}的催报内容最多{TEXT_LIMIT}字")
    return errors


def send(period: Period, region: Region, user: Optional[User], *, auto: bool = False,
         texts: Optional[dict[str, str]] = None) -> Optional[Reminder]:
    """Record one message per child of `region` with something outstanding; queue its robots.

    `texts` (code -> text, as the reviewer edited them in the preview) chooses the units and their
    words; a unit named there that has filed since is left out. Raises ReminderRejected, before any
    write, for an empty or overlong text or no unit chosen. Returns the reminder, or None when
    nothing is outstanding (or, for an automatic one, when every unit was already chased for this
    period). The caller commits, then calls `deliver`.
    """
    now = clock.now()
    chosen = drafts(period, region, user, now)
    if texts is not None:
        errors = text_errors(texts, {d.code: d.name for d in chosen})
        if errors:
            raise ReminderRejected(errors)
        chosen = [replace(d, text=texts[d.code].strip()) for d in chosen if d.code in texts]
    if not chosen:
        return None
    reminder = Reminder(period=period, region=region, by_id=user.id if user else None, at=now, auto=auto)
    db.session.add(reminder)
    db.session.flush()
    sent = []
    for draft in chosen:
        unit = draft.owed
        message = ReminderMessage(reminder_id=reminder.id, outstanding=unit.count,
                                  region_id=None if unit.department else unit.region.id,
                                  department_id=unit.department.id if unit.department else None,
                                  text=draft.text, contact=draft.contact,
                                  auto_period_id=period.id if auto else None)
        if auto:
            # another worker may have chased this unit for this period a moment ago: the constraint decides
            try:
                with db.session.begin_nested():
                    db.session.add(message)
            except IntegrityError:
                continue
        else:
            db.session.add(message)
            db.session.flush()
        for hook in draft.hooks:
            db.session.add(Delivery(message_id=message.id, webhook_id=hook.id, kind=hook.kind, outcome="queued"))
        sent.append(unit.code)
    if not sent:
        db.session.delete(reminder)
        db.session.flush()
        return None
    db.session.flush()
    db.session.refresh(reminder)
    versions.bump_at(period.campaign, region)  # the status board shows 已催报N次
    audit.record("reminder.send", user, region=region,
                 target=f"催报 {region.code} {period.label} {len(sent)}个单位" + ("（自动）" if auto else ""),
                 after={"units": sent})
    return reminder


def send_due(now: Optional[dt.datetime] = None) -> list[Reminder]:
    """自动催报: for every campaign that asks for it, chase the units whose period's deadline is
    within its set hours and not yet past. Safe to run on every instance at once."""
    now = now or clock.now()
    done = []
    for campaign in db.session.scalars(select(Campaign).where(Campaign.auto_remind_hours.is_not(None))):
        window = dt.timedelta(hours=campaign.auto_remind_hours)
        for period in campaign.periods:
            if period.deadline - window <= now < period.deadline:
                reminder = send(period, campaign.root, None, auto=True)
                if reminder is not None:
                    done.append(reminder)
    return done


def set_webhook(by: Optional[User], user: User, kind: str, url: Optional[str], secret: str = "",
                mobiles: str = "") -> Optional[Webhook]:
    """Set (or, without `url`, remove) the group robot of `kind` that 催报 to the user's unit go to."""
    if kind not in KINDS:
        raise ValueError(f"机器人类型应为 {'、'.join(KINDS)} 之一")
    url = (url or "").strip() or None
    if url is not None:
        outbound.check_url(url, current_app.config)  # AddressRefused is a ValueError, in Chinese
    hook = db.session.scalar(select(Webhook).where(Webhook.user_id == user.id, Webhook.kind == kind))
    if url is None:
        if hook is not None:
            db.session.delete(hook)
        hook = None
    else:
        hook = hook or Webhook(user=user, kind=kind)
        hook.url, hook.secret, hook.mobiles = url, (secret or "").strip(), (mobiles or "").strip()
        db.session.add(hook)
    db.session.flush()
    audit.record("webhook.update", by, region=user.region, target=f"用户 {user.username} 的{KINDS[kind]}",
                 after={"url": url.split("?")[0] if url else None})
    return hook


def webhooks_of(user: User) -> dict[str, Webhook]:
    return {h.kind: h for h in db.session.scalars(select(Webhook).where(Webhook.user_id == user.id))}


# --- the robots ----------------------------------------------------------------------------

def payload(kind: str, text: str, mobiles: list[str]) -> dict:
    if kind == "wecom":
        return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": mobiles}}
    return {"msgtype": "text", "text": {"content": text}, "at": {"atMobiles": mobiles, "isAtAll": False}}


def signed_url(url: str, secret: str, now_ms: Optional[int] = None) -> str:
    """钉钉 加签: timestamp and HMAC-SHA256 of "timestamp\\nsecret", base64, URL-encoded."""
    if not secret:
        return url
    timestamp = str(now_ms if now_ms is not None else clock.wall_ms())
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


class SendFailed(RuntimeError):
    """The robot did not take the message; the text is its category only (超时, 连接失败, 地址不允许,
    对方拒绝（errcode N）), never what the other end answered."""


#: what a delivery's error may say: a category, never the remote text
CATEGORIES = ("超时", "连接失败", "地址不允许", "对方拒绝")


def post(hook: Webhook, text: str, timeout: float) -> None:
    """One POST to the robot, through outbound's checks; raises SendFailed with the category."""
    mobiles = [m.strip() for m in (hook.mobiles or hook.user.phone or "").split(",") if m.strip()]
    url = signed_url(hook.url, hook.secret) if hook.kind == "dingtalk" else hook.url
    body = json.dumps(payload(hook.kind, text, mobiles), ensure_ascii=False).encode()
    try:
        status, raw = outbound.post_json(url, body, timeout, current_app.config)
    except outbound.AddressRefused:
        raise SendFailed("地址不允许") from None
    except (TimeoutError, socket.timeout):
        raise SendFailed("超时") from None
    except Exception:  # noqa: BLE001 - every failure of a send is recorded, none leaves it queued
        raise SendFailed("连接失败") from None
    if status != 200:
        raise SendFailed(f"对方拒绝（HTTP {int(status)}）")
    try:
        answer = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise SendFailed("对方拒绝（应答无法识别）") from None
    code = answer.get("errcode") if isinstance(answer, dict) else None
    if isinstance(code, bool) or not isinstance(code, int):
        raise SendFailed("对方拒绝（应答无法识别）")
    if code != 0:
        raise SendFailed(f"对方拒绝（errcode {code}）")


def shown_error(error: str) -> str:
    """A delivery's error as shown: its category (an error stored before categories says 发送失败)."""
    if not error:
        return ""
    return error if error.startswith(CATEGORIES) else "发送失败"


def attempt(delivery: Delivery, timeout: float) -> bool:
    """One try of one delivery; records its outcome. True when the robot took it."""
    delivery.attempts += 1
    delivery.at = clock.now()
    message = db.session.get(ReminderMessage, delivery.message_id)
    try:
        post(delivery.webhook, message.text, timeout)
    except SendFailed as failure:
        delivery.error = str(failure)[:300]
        return False
    except Exception:  # noqa: BLE001 - the robot gone or the hook removed: recorded, never left queued
        delivery.error = "连接失败"
        return False
    delivery.outcome, delivery.error = "sent", ""
    return True


def robot_timeout(config) -> float:
    """How long one POST to a group robot may take (WEBHOOK_TIMEOUT seconds)."""
    return float(config.get("WEBHOOK_TIMEOUT", TIMEOUT))


def _settings(app) -> tuple[int, float, tuple]:
    return (int(app.config.get("WEBHOOK_ATTEMPTS", ATTEMPTS)), float(app.config.get("WEBHOOK_TIMEOUT", TIMEOUT)),
            tuple(app.config.get("WEBHOOK_RETRY_SECONDS", RETRY_SECONDS)))


def run_delivery(delivery_id: int, config: dict) -> str:
    """The job: one try of a 催报 to a group robot; a failure raises, so that RQ retries it."""
    from rq import get_current_job
    job = get_current_job()
    with jobs.job_app(config) as app:
        last_try = job is None or not job.retries_left
        if not deliver_one(delivery_id, last_try, _settings(app)[1]):
            raise RuntimeError(f"催报发送失败（{delivery_id}）")
        return "sent"


def deliver(reminder: Reminder) -> None:
    """After the reminder is committed: queue each robot delivery, or, without Redis, send them now."""
    app = current_app._get_current_object()
    attempts, timeout, waits = _settings(app)
    ids = [d.id for m in reminder.messages for d in m.deliveries if d.outcome == "queued"]
    queue = jobs.queue(app, jobs.REMINDER_QUEUE)
    if queue is not None:
        from redis.exceptions import RedisError
        from rq import Retry
        done = 0
        try:
            for delivery_id in ids:
                queue.enqueue(run_delivery, delivery_id, {
                    "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                    "WEBHOOK_HOSTS": app.config.get("WEBHOOK_HOSTS", ""),
                    "WEBHOOK_ALLOW_PRIVATE": bool(app.config.get("WEBHOOK_ALLOW_PRIVATE"))},
                    retry=Retry(max=attempts - 1, interval=list(waits)) if attempts > 1 else None,
                    result_ttl=86400, failure_ttl=86400, job_timeout=max(60, int(timeout * 3)))
                done += 1
            return
        except RedisError as error:
            # Redis gone: what was not queued is sent now, as without REDIS_URL; none stays queued
            outages.report("Redis（任务队列）", error)
            ids = ids[done:]
    for delivery_id in ids:
        delivery = db.session.get(Delivery, delivery_id)
        for n in range(attempts):
            if attempt(delivery, timeout):
                break
            db.session.commit()
            if n + 1 < attempts:
                time.sleep(waits[min(n, len(waits) - 1)] if waits else 0)
        else:
            delivery.outcome = "failed"
        db.session.commit()


def settle_stale(app=None, now: Optional[dt.datetime] = None) -> int:
    """Deliveries still queued well after every try could have run (their job lost with its worker,
    or Redis lost with its queue) are failed: 发送失败（超时）. How many; the caller commits."""
    app = app or current_app._get_current_object()
    attempts, timeout, waits = _settings(app)
    budget = sum(waits[min(n, len(waits) - 1)] for n in range(attempts - 1)) if waits else 0
    budget += attempts * max(60, timeout * 3) + 300  # each try's job timeout, and a worker's delay
    cutoff = (now or clock.now()) - dt.timedelta(seconds=budget)
    stale = select(Delivery.id).join(ReminderMessage, ReminderMessage.id == Delivery.message_id).join(
        Reminder, Reminder.id == ReminderMessage.reminder_id).where(Delivery.outcome == "queued", Reminder.at < cutoff)
    ids = list(db.session.scalars(stale))
    if ids:
        db.session.execute(Delivery.__table__.update().where(Delivery.id.in_(ids))
                           .values(outcome="failed", error="超时"))
    return len(ids)


def deliver_one(delivery_id: int, last_try: bool, timeout: float) -> bool:
    """The queue's job body: one try; the last failed try marks the delivery failed."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.outcome == "sent":
        return True
    ok = attempt(delivery, timeout)
    if not ok and last_try:
        delivery.outcome = "failed"
    db.session.commit()
    return ok


# --- reading them back ---------------------------------------------------------------------

def received(region: Optional[Region], limit: int = 20, department: Optional[Department] = None
             ) -> list[ReminderMessage]:
    """The 催报 messages addressed to `region` (or to `department`), newest first: the recipient's home page."""
    to = ReminderMessage.department_id == department.id if department else ReminderMessage.region_id == region.id
    return list(db.session.scalars(select(ReminderMessage).join(Reminder, Reminder.id == ReminderMessage.reminder_id)
                                   .where(to)
                                   .order_by(Reminder.at.desc(), ReminderMessage.id.desc()).limit(limit)))


def chased(period: Period, region: Region) -> dict[int, tuple[int, dt.datetime]]:
    """Per child of `region`: how many times it was chased for the period, and the last time."""
    rows = db.session.execute(
        select(ReminderMessage.region_id, func.count(ReminderMessage.id), func.max(Reminder.at))
        .join(Reminder, Reminder.id == ReminderMessage.reminder_id)
        .join(Region, Region.id == ReminderMessage.region_id)
        .where(Reminder.period_id == period.id, Region.parent_id == region.id)
        .group_by(ReminderMessage.region_id))
    return {row[0]: (row[1], row[2]) for row in rows}


def chased_departments(period: Period, region: Region) -> dict[int, tuple[int, dt.datetime]]:
    """Per department sitting at `region`: how many times it was chased for the period, and the last time."""
    rows = db.session.execute(
        select(ReminderMessage.department_id, func.count(ReminderMessage.id), func.max(Reminder.at))
        .join(Reminder, Reminder.id == ReminderMessage.reminder_id)
        .join(Department, Department.id == ReminderMessage.department_id)
        .where(Reminder.period_id == period.id, Department.campaign_id == period.campaign_id,
               Department.region_id == region.id)
        .group_by(ReminderMessage.department_id))
    return {row[0]: (row[1], row[2]) for row in rows}


def listed(period: Period, region: Region, limit: int = 100) -> list[tuple[Reminder, list[ReminderMessage]]]:
    """The reminders with messages to `region` or a unit under it, newest first, each with those messages."""
    scope = Region.id == region.id
    if region.level != "village":
        scope = scope | (getattr(Region, f"{region.level}_id") == region.id)
    scope = scope | ReminderMessage.department_id.in_(departments_under(period, region))
    messages = db.session.scalars(
        select(ReminderMessage).join(Reminder, Reminder.id == ReminderMessage.reminder_id)
        .outerjoin(Region, Region.id == ReminderMessage.region_id)
        .where(Reminder.period_id == period.id, scope)
        .order_by(Reminder.at.desc(), Reminder.id.desc(), ReminderMessage.id).limit(limit * 20)).all()
    grouped: dict[int, list[ReminderMessage]] = {}
    for message in messages:
        grouped.setdefault(message.reminder_id, []).append(message)
    reminders = {r.id: r for r in db.session.scalars(select(Reminder).where(Reminder.id.in_(grouped)))}
    order = sorted(grouped, key=lambda i: (reminders[i].at, i), reverse=True)[:limit]
    return [(reminders[i], grouped[i]) for i in order]


def message_json(message: ReminderMessage) -> dict:
    department = message.department
    return {"code": f"BM{department.id}" if department else message.region.code,
            "name": message.recipient_name, "outstanding": message.outstanding,
            **({"department_id": department.id} if department else {}),
            "contact": message.contact or {"name": "", "phone": ""}, "text": message.text,
            "channels": [{"kind": d.kind, "outcome": d.outcome, "attempts": d.attempts, "error": shown_error(d.error)}
                         for d in message.deliveries]}


def reminder_json(reminder: Reminder, messages: Optional[list[ReminderMessage]] = None) -> dict:
    by = reminder.by
    return {"id": reminder.id, "at": reminder.at.isoformat(), "auto": reminder.auto,
            "by": (by.full_name or by.username) if by else "自动催报",
            "units": [message_json(m) for m in (messages if messages is not None else reminder.messages)]}
