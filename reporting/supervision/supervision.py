"""督办闭环: 约谈 and 督办单 about a unit or a department, its 整改报告, 销号 or 退回重新整改, tied to the figures.

An item is issued by the level that reviews the unit (access.can_supervise), answered by the unit's
own filers (access.can_answer_supervision) and read by whoever sees the unit. It keeps the unit's
完成率 and rank when it was made, so that its page can show what moved since. Every step is audited
in the same transaction as the step itself.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import secrets
from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from reporting import access, audit, clock
from reporting.calendar.schedule import current_period
from reporting.departments.departments import department_progress
from reporting.extensions import db
from reporting.filters import percent
from reporting.models import (
    LEVELS,
    WRITER_ROLES,
    Department,
    Period,
    Region,
    SupervisionAttachment,
    SupervisionItem,
    SupervisionNotice,
    SupervisionResponse,
    User,
    Webhook,
)
from reporting.progress import cache
from reporting.progress.ranking import competition_ranks

KINDS = {"interview": "约谈", "order": "督办单"}
STATUSES = {"open": "待整改", "responded": "已报送整改报告", "closed": "已销号"}
#: the longest texts kept: a matter or a report is a few paragraphs, never a document
MATTER_MAX, TEXT_MAX, SHORT_MAX = 2000, 5000, 100


class SupervisionInvalid(ValueError):
    """Input that cannot make or move an item (422); `field` names the field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


class SupervisionRefused(ValueError):
    """A step the item's state does not allow (409), e.g. answering an item already 销号."""


@dataclass
class Standing:
    """A unit's 完成率 (or 参保率 without a task) and its rank among its siblings."""
    completion: Optional[float]
    rank: Optional[int]

    def as_json(self) -> dict:
        return {"completion": self.completion, "rank": self.rank}


def standing(period: Period, region: Optional[Region] = None,
             department: Optional[Department] = None) -> Standing:
    """Where the unit (or the department) stands at `period`, on the one basis of the dashboard:
    its row in the ranking of its parent (the departments at its region)."""
    campaign = period.campaign
    if department is not None:
        rows = department_progress(period, department.region, clock.now())
        ranks = competition_ranks([r.main_measure for r in rows])
        for row, rank in zip(rows, ranks):
            if row.department.id == department.id:
                return Standing(row.main_measure, rank)
        return Standing(None, None)
    parent = region.parent
    if parent is None or not campaign.root.contains(parent):
        # the campaign's own root: nobody to rank it against
        return Standing(cache.progress(period, region).region.main_measure, None)
    for row in cache.progress(period, parent).children:
        if row.region.id == region.id:
            return Standing(row.main_measure, row.rank)
    return Standing(None, None)


def suggested_matter(period: Period, region: Optional[Region] = None,
                     department: Optional[Department] = None) -> str:
    """The matter a new item starts with: why the unit stands out at `period` (the 约谈名单's rule and
    its ranks, 进度滞后, 逾期未报), in words the issuer may keep or change."""
    if department is not None:
        row = next((d for d in department_progress(period, department.region, clock.now())
                    if d.department.id == department.id), None)
        if row is None:
            return ""
        late = {"missing": "逾期未报送", "late": "迟报"}.get(row.late, "")
        return "；".join(w for w in (f"{period.label}{late}" if late else "",
                                     f"完成率{percent(row.main_measure)}" if row.main_measure is not None else "") if w)
    parent = region.parent
    if parent is None or not period.campaign.root.contains(parent):
        return ""
    result = cache.progress(period, parent)
    row = next((r for r in result.children if r.region.id == region.id), None)
    if row is None:
        return ""
    words = []
    if row.interview:
        bottom, streak = result.rule
        ranks = "；".join(f"第{s.period.seq}期第{s.rank}名/共{s.of}个" + ("（逾期未报）" if s.missing else "")
                         for s in row.standings)
        words.append(f"连续{streak}期排名{'末位' if bottom == 1 else f'后{bottom}名'}（{ranks}）")
    if row.late == "missing":
        words.append(f"{period.label}逾期未报送")
    measure = row.main_measure
    if measure is not None and measure < result.time_progress:
        words.append(f"进度滞后：完成率{percent(measure)}，低于序时进度{percent(result.time_progress)}")
    elif measure is not None:
        words.append(f"完成率{percent(measure)}，第{row.rank}名/共{len(result.children)}个")
    return "；".join(words)


def _text(value, field: str, label: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SupervisionInvalid(f"{label}应为文字", field)
    value = value.strip()
    if required and not value:
        raise SupervisionInvalid(f"请填写{label}", field)
    if len(value) > limit:
        raise SupervisionInvalid(f"{label}过长（最多{limit}字）", field)
    return value


def _date(value, field: str, label: str, required: bool = False) -> Optional[dt.date]:
    if isinstance(value, dt.date):
        return value
    if value in (None, ""):
        if required:
            raise SupervisionInvalid(f"请填写{label}（YYYY-MM-DD）", field)
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad(label, field)
    except ValueError:
        return _bad(label, field)


def _bad(label: str, field: str):
    raise SupervisionInvalid(f"{label}应为日期（YYYY-MM-DD）", field)


def next_seq(issuer: Region, year: int) -> int:
    """The next number of the issuing level's year: 督办〔2026〕3号 follows 2号."""
    last = db.session.scalar(select(func.max(SupervisionItem.seq)).where(
        SupervisionItem.issuer_region_id == issuer.id, SupervisionItem.year == year))
    return (last or 0) + 1


def create(user: User, period: Period, *, kind: str, matter, due, region: Optional[Region] = None,
           department: Optional[Department] = None, requirement="", interview: Optional[dict] = None
           ) -> SupervisionItem:
    """A new open item, numbered for the creator's level and year, with the unit's figures now.
    The caller has checked that `user` reviews the unit (access.can_supervise)."""
    matter = _text(matter, "matter", "督办事项", MATTER_MAX, required=True)
    due = _date(due, "due", "整改时限", required=True)
    if kind not in KINDS:
        raise SupervisionInvalid("kind 应为 interview（约谈）或 order（督办单）", "kind")
    requirement = _text(requirement, "requirement", "整改要求", TEXT_MAX)
    interview = interview or {}
    if not isinstance(interview, dict):
        raise SupervisionInvalid("interview 应为对象：{date, place, interviewee, interviewer}", "interview")
    campaign = period.campaign
    if department is not None and department.campaign_id != campaign.id:
        raise SupervisionInvalid(f"{department.name}不属于该报送期次所在的征缴期", "period_id")
    if region is not None and not campaign.root.contains(region):
        raise SupervisionInvalid(f"{region.name}不在该征缴期范围内", "region_code")
    today = clock.today()
    then = standing(period, region, department)
    item = SupervisionItem(
        period=period, region=region, department=department, kind=kind, issuer_region=user.region,
        year=today.year, seq=next_seq(user.region, today.year), matter=matter, requirement=requirement,
        due=due, status="open", then_completion=then.completion, then_rank=then.rank,
        interview_date=_date(interview.get("date"), "interview.date", "约谈日期"),
        interview_place=_text(interview.get("place"), "interview.place", "约谈地点", SHORT_MAX),
        interviewee=_text(interview.get("interviewee"), "interview.interviewee", "约谈对象", SHORT_MAX),
        interviewer=_text(interview.get("interviewer"), "interview.interviewer", "约谈人", SHORT_MAX),
        created_by=user, created_at=clock.now())
    db.session.add(item)
    db.session.flush()
    audit.record("supervision.create", user, region=region or department.region, target=_target(item),
                 after={"kind": KINDS[kind], "matter": matter, "due": due.isoformat(), "period": period.label})
    return item


def _target(item: SupervisionItem) -> str:
    return f"{item.number} {item.subject_name}"


#: what a 整改报告 may carry: PDF and images, known by their first bytes (never by the name or the browser's word)
SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
ATTACHMENT_MAX = 10 * 1024 * 1024
ATTACHMENTS_PER_REPORT = 5


def attachment_type(name: str, data: bytes) -> str:
    """The file's type, or SupervisionInvalid: PDF, PNG or JPEG of at most 10 MB."""
    if len(data) > ATTACHMENT_MAX:
        raise SupervisionInvalid(f"附件“{name}”超过10MB", "attachments")
    if not data:
        raise SupervisionInvalid(f"附件“{name}”是空文件", "attachments")
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    raise SupervisionInvalid(f"附件“{name}”不是PDF或图片（JPG、PNG）", "attachments")


def _keep(response: SupervisionResponse, files: list[tuple[str, bytes, str]], folder: str) -> list[str]:
    """Write the checked files under random names in `folder` (outside the web root); their paths."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, data, content_type in files:
        stored = secrets.token_hex(16)
        path = os.path.join(folder, stored)
        with open(path, "xb") as out:
            out.write(data)
        written.append(path)
        db.session.add(SupervisionAttachment(response=response, filename=(os.path.basename(name) or "附件")[:200],
                                             content_type=content_type, size=len(data), stored_as=stored))
    return written


def attachment_path(attachment: SupervisionAttachment, folder: str) -> str:
    return os.path.join(folder, attachment.stored_as)


def respond(item: SupervisionItem, user: User, text, measures="", promise="",
            attachments: Iterable[tuple[str, bytes]] = (), folder: Optional[str] = None) -> SupervisionResponse:
    """整改报告: the item waits for its issuer's 销号 or 退回. Attachments are checked before anything is
    written; the caller removes `response.written` if its commit fails."""
    if item.status == "closed":
        raise SupervisionRefused(f"{item.number}已销号，无需再报送整改报告")
    text = _text(text, "text", "整改情况", TEXT_MAX, required=True)
    files = [(name, data, attachment_type(name, data)) for name, data in attachments]
    if len(files) > ATTACHMENTS_PER_REPORT:
        raise SupervisionInvalid(f"一份整改报告最多{ATTACHMENTS_PER_REPORT}个附件", "attachments")
    response = SupervisionResponse(item=item, text=text, by=user, at=clock.now(),
                                   measures=_text(measures, "measures", "整改措施", TEXT_MAX),
                                   promise=_text(promise, "promise", "承诺完成时间或目标", 200))
    db.session.add(response)
    before = item.status
    item.status = "responded"
    db.session.flush()
    response.written = _keep(response, files, folder) if files else []
    audit.record("supervision.respond", user, region=_place(item), target=_target(item),
                 before={"status": STATUSES[before]}, after={"status": STATUSES["responded"], "text": text, "attachments": len(files)})
    return response


def close(item: SupervisionItem, user: User) -> SupervisionItem:
    """销号."""
    if item.status == "closed":
        raise SupervisionRefused(f"{item.number}已销号")
    before = item.status
    item.status, item.closed_by, item.closed_at = "closed", user, clock.now()
    audit.record("supervision.close", user, region=_place(item), target=_target(item),
                 before={"status": STATUSES[before]}, after={"status": STATUSES["closed"]})
    return item


def reopen(item: SupervisionItem, user: User, reason, due=None) -> SupervisionItem:
    """退回重新整改, with a reason; optionally a new 整改时限."""
    reason = _text(reason, "reason", "退回原因", TEXT_MAX, required=True)
    new_due = _date(due, "due", "新的整改时限")
    if item.status == "open":
        raise SupervisionRefused(f"{item.number}尚未报送整改报告，无需退回")
    before = {"status": STATUSES[item.status], "due": item.due.isoformat()}
    item.status, item.reopen_reason, item.closed_by, item.closed_at = "open", reason, None, None
    if new_due is not None:
        item.due = new_due
    audit.record("supervision.reopen", user, region=_place(item), target=_target(item), before=before,
                 after={"status": STATUSES["open"], "reason": reason, "due": item.due.isoformat()})
    return item


def _place(item: SupervisionItem) -> Region:
    return item.region if item.region_id is not None else item.department.region


def now_standing(item: SupervisionItem, today: dt.date) -> Standing:
    """The unit's figures now: at the campaign's current period (never before the item's own)."""
    period = item.period
    current = current_period(period.campaign, today)
    if current is not None and current.seq > period.seq:
        period = current
    return standing(period, item.region, item.department)


def item_json(item: SupervisionItem, today: dt.date, figures: bool = False) -> dict:
    """An item in the API's shape (API.md, 督办)."""
    answer = {
        "id": item.id, "number": item.number, "region_code": item.region.code if item.region_id else None,
        "department_id": item.department_id, "subject": item.subject_name, "period_id": item.period_id,
        "kind": item.kind, "matter": item.matter, "requirement": item.requirement, "due": item.due.isoformat(),
        "status": item.status, "overdue": item.is_overdue(today),
        "created_by": item.created_by.username if item.created_by else None,
        "created_at": item.created_at.isoformat(),
        "closed_at": item.closed_at.isoformat() if item.closed_at else None,
        "reopen_reason": item.reopen_reason or None,
        "interview": ({"date": item.interview_date.isoformat() if item.interview_date else None,
                       "place": item.interview_place, "interviewee": item.interviewee,
                       "interviewer": item.interviewer} if item.kind == "interview" else None),
        "responses": [{"text": r.text, "measures": r.measures, "promise": r.promise,
                       "by": r.by.username if r.by else None, "at": r.at.isoformat(),
                       "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type,
                                        "size": a.size} for a in r.attachments]} for r in item.responses],
    }
    if figures:
        answer["figures"] = {"then": Standing(item.then_completion, item.then_rank).as_json(),
                             "now": now_standing(item, today).as_json()}
    return answer


def _status_filter(query, status: Optional[str], today: dt.date):
    if status == "overdue":
        return query.where(SupervisionItem.status == "open", SupervisionItem.due < today)
    if status:
        return query.where(SupervisionItem.status == status)
    return query


def _under(region: Region):
    """The condition "about `region` or a unit under it, or a department sitting there"."""
    unit, place = aliased(Region), aliased(Region)
    column = (lambda r: r.id) if region.level == "village" else (lambda r: getattr(r, f"{region.level}_id"))
    query = (select(SupervisionItem)
             .outerjoin(unit, unit.id == SupervisionItem.region_id)
             .outerjoin(Department, Department.id == SupervisionItem.department_id)
             .outerjoin(place, place.id == Department.region_id)
             .where(or_(column(unit) == region.id, column(place) == region.id)))
    return query, unit


def items_about(region: Region, status: Optional[str] = None, today: Optional[dt.date] = None,
                campaign_id: Optional[int] = None) -> list[SupervisionItem]:
    """The items about `region` and everything under it (units and departments), newest first."""
    query, _ = _under(region)
    query = _status_filter(query, status, today or clock.today())
    if campaign_id is not None:
        query = query.join(Period, Period.id == SupervisionItem.period_id).where(Period.campaign_id == campaign_id)
    return list(db.session.scalars(query.options(
        joinedload(SupervisionItem.region), joinedload(SupervisionItem.department),
        joinedload(SupervisionItem.created_by)).order_by(SupervisionItem.id.desc())).unique())


@dataclass
class Counts:
    open: int = 0
    overdue: int = 0


def counts_by_child(region: Region, today: dt.date) -> dict[int, Counts]:
    """The 督办 column of the board: open items (not yet 销号) and overdue ones under each child
    of `region`, by the child's id."""
    if region.level == "village":
        return {}
    query, unit = _under(region)
    level = LEVELS[LEVELS.index(region.level) + 1]
    key = unit.id if level == "village" else getattr(unit, f"{level}_id")
    found: dict[int, Counts] = {}
    for child_id, status, due in db.session.execute(
            query.with_only_columns(key, SupervisionItem.status, SupervisionItem.due)
            .where(SupervisionItem.status != "closed", SupervisionItem.region_id.is_not(None))):
        counts = found.setdefault(child_id, Counts())
        counts.open += 1
        counts.overdue += status == "open" and today > due
    return found


def waiting_for(user: User) -> list[SupervisionItem]:
    """The open items the user's unit must answer (their 待办), nearest 整改时限 first."""
    if user.role == "department_filer":
        query = select(SupervisionItem).where(SupervisionItem.department_id == user.department_id)
    else:
        query, _ = _under(user.region)
        query = query.where(SupervisionItem.region_id.is_not(None))
    items = db.session.scalars(query.where(SupervisionItem.status == "open").order_by(SupervisionItem.due))
    return [item for item in items if access.can_answer_supervision(user, item)]


def awaiting_close(user: User) -> list[SupervisionItem]:
    """The items whose 整改报告 waits for the user's 销号 or 退回 (the issuing level's 待办)."""
    if user.role == "department_filer":
        return []
    query, _ = _under(user.region)
    items = db.session.scalars(query.where(SupervisionItem.status == "responded").order_by(SupervisionItem.id))
    return [item for item in items if access.can_supervise(user, item.region, item.department)]


def countdown(item: SupervisionItem, today: dt.date) -> str:
    """还有3天 / 今天到期 / 已逾期2天."""
    days = (item.due - today).days
    if days > 0:
        return f"还有{days}天"
    return "今天到期" if days == 0 else f"已逾期{-days}天"


@dataclass
class CircularFact:
    """One supervision item the 通报 of a period speaks of: answered since the period before (with
    the unit's figures then and now), or overdue."""
    item: SupervisionItem
    #: answered or overdue
    state: str
    #: the unit's 完成率 when the item was made and at the circular's period (answered items)
    then: Optional[float] = None
    now: Optional[float] = None
    #: the days past its 整改时限 at the circular's day (overdue items)
    overdue_days: int = 0

    @property
    def word(self) -> str:
        return supervision_word(self.item)

    @property
    def overdue_order(self) -> tuple:
        """Longest overdue first: the furthest past its 整改时限, then the oldest item."""
        return -self.overdue_days, self.item.id


def circular_facts(period: Period, region: Region, today: dt.date) -> list[CircularFact]:
    """What the 通报 of `period` has to say of supervision under `region`: each 整改报告 submitted
    since the period before, and each item overdue at `today`. The circular writes the words."""
    earlier = [p for p in period.campaign.periods if p.seq < period.seq]
    since = earlier[-1].as_of if earlier else None
    facts = []
    for item in sorted(items_about(region, today=today, campaign_id=period.campaign_id), key=lambda i: i.id):
        if item.period.seq > period.seq or item.region_id == region.id:
            continue  # a later item, or one about the issuer itself (the level above names it)
        last = item.responses[-1] if item.responses else None
        if item.status != "open" and last is not None and (since is None or last.at.date() > since):
            facts.append(CircularFact(item, "answered", item.then_completion,
                                      standing(period, item.region, item.department).completion))
        elif item.is_overdue(today):
            facts.append(CircularFact(item, "overdue", overdue_days=(today - item.due).days))
    return facts


def supervision_word(item: SupervisionItem) -> str:
    return "约谈" if item.kind == "interview" else "督办"


LEDGER_COLUMNS = ("编号", "类型", "对象", "期次", "督办事项", "整改要求", "整改时限", "状态", "是否逾期",
                  "建立人", "建立时间", "当时完成率", "当时排名", "现完成率", "现排名", "整改报告", "销号时间")


def ledger_workbook(items: list[SupervisionItem], title: str, today: dt.date) -> bytes:
    """督办台账: every item with its state and the unit's figures then and now, as an XLSX."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "督办台账"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(LEDGER_COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for item in items:
        now = now_standing(item, today)
        last = item.responses[-1] if item.responses else None
        sheet.append([item.number, KINDS[item.kind], item.subject_name, item.period.label, item.matter,
                      item.requirement, item.due, STATUSES[item.status], "是" if item.is_overdue(today) else "否",
                      item.created_by.full_name or item.created_by.username if item.created_by else "",
                      item.created_at, item.then_completion, item.then_rank, now.completion, now.rank,
                      last.text if last else "", item.closed_at])
    for row in sheet.iter_rows(min_row=3):
        for index in (11, 13):
            row[index].number_format = "0.00%"
        row[6].number_format = "yyyy-mm-dd"
        row[10].number_format = row[16].number_format = "yyyy-mm-dd hh:mm"
    for letter, width in zip("ABCDEFGHIJKLMNOPQ", (16, 8, 18, 22, 36, 30, 12, 14, 8, 12, 17, 10, 8, 10, 8, 36, 17)):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the unit's group robots ------------------------------------------------------------------
#: the occasions a unit's robots hear of an item on: when it is made, and the day before its 整改时限
OCCASIONS = ("created", "due_soon")
#: the occasions and outcomes in words, as the item's page lists its notices
OCCASION_WORDS = {"created": "建立督办事项时", "due_soon": "整改时限前一天"}
OUTCOME_WORDS = {"sent": "已送达", "failed": "未送达"}


def notice_text(item: SupervisionItem, occasion: str) -> str:
    """【督办】恩平市：督办〔2026〕3号约谈…，请于12月14日前报送整改报告。江门市医疗保障局"""
    from reporting.reminders.reminders import sender_name
    due = f"{item.due.month}月{item.due.day}日"
    sender = sender_name(item.issuer_region)
    if occasion == "created":
        return (f"【督办】{item.subject_name}：{item.number}（{KINDS[item.kind]}）{item.matter}，"
                f"请于{due}前报送整改报告。{sender}")
    return (f"【督办提醒】{item.subject_name}：{item.number}整改时限为{due}（明天），尚未报送整改报告，"
            f"请按时报送。{sender}")


def robots_of(item: SupervisionItem) -> list[Webhook]:
    """The group robots of those who answer the item (access.can_answer_supervision): the filers of
    its unit, at the unit or above it, or its department's filer."""
    query = select(Webhook).join(User, User.id == Webhook.user_id).where(User.active.is_(True))
    if item.department_id:
        query = query.where(User.department_id == item.department_id)
    else:
        unit = item.region
        above = [unit.id, unit.province_id, unit.city_id, unit.county_id, unit.township_id]
        query = query.where(User.region_id.in_([i for i in above if i is not None]), User.role.in_(WRITER_ROLES))
    return [hook for hook in db.session.scalars(query.options(joinedload(Webhook.user)).order_by(Webhook.id))
            if access.can_answer_supervision(hook.user, item)]


def notify(item: SupervisionItem, occasion: str, timeout: float) -> list[SupervisionNotice]:
    """Tell the unit's robots of `item`, each once for the occasion: a second call (another instance,
    the next run of the schedule) finds the notice written and sends nothing. Through the same
    allowlist and address checks as 催报 (reminders.post); a failure is kept as its category."""
    from reporting.reminders.reminders import SendFailed, post
    sent = []
    text = notice_text(item, occasion)
    for hook in robots_of(item):
        notice = SupervisionNotice(item_id=item.id, occasion=occasion, webhook_id=hook.id, at=clock.now())
        try:
            with db.session.begin_nested():  # the unique key: one notice per item, occasion and robot
                db.session.add(notice)
        except IntegrityError:
            continue
        try:
            post(hook, text, timeout)
            notice.outcome = "sent"
        except SendFailed as failure:
            notice.error = str(failure)[:100]
        except Exception:  # noqa: BLE001 - a robot gone is recorded, and the next one still hears
            notice.error = "连接失败"
        sent.append(notice)
    return sent


def notify_due(today: dt.date, timeout: float) -> list[SupervisionNotice]:
    """整改时限前一天: every open item due tomorrow, to its unit's robots (once each)."""
    items = db.session.scalars(select(SupervisionItem).where(
        SupervisionItem.status == "open", SupervisionItem.due == today + dt.timedelta(days=1))
        .order_by(SupervisionItem.id))
    return [notice for item in items for notice in notify(item, "due_soon", timeout)]


def notices(item: SupervisionItem) -> list[tuple[SupervisionNotice, Optional[Webhook]]]:
    """The item's robot notices, oldest first, each with its robot (None once the robot is removed)."""
    return list(db.session.execute(
        select(SupervisionNotice, Webhook).outerjoin(Webhook, Webhook.id == SupervisionNotice.webhook_id)
        .options(joinedload(Webhook.user)).where(SupervisionNotice.item_id == item.id)
        .order_by(SupervisionNotice.id)).all())
