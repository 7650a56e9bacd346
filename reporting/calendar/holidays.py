"""The State Council's 放假 and 调休 days: notice lines read, overrides saved, due dates recomputed."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Optional

import chinese_calendar
from sqlalchemy import select

from reporting import audit, clock, versions
from reporting.calendar.schedule import ONE_DAY, Calendar
from reporting.extensions import db
from reporting.models import Campaign, DueChange, HolidayOverride, Period, User

#: the longest run of days one command or one notice line may enter (国庆 and 春节 take 8 or 9)
MAX_RUN = 31
WEEKDAY_NAMES = "一二三四五六日"

_NUMBERING = re.compile(r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|\d+\s*[、.．]|[（(][一二三四五六七八九十\d]+[）)])\s*")
_NAME = re.compile(r"^(?P<name>[^：:，,。]{1,20})[：:](?P<rest>.*)$")
#: a date as the notices write it: [2026年]1月28日[（农历除夕、周二）], or 8日 after 至
_DATE = re.compile(r"(?:(?P<year>\d{4})\s*年\s*)?(?:(?P<month>\d{1,2})\s*月\s*)?(?P<day>\d{1,2})\s*日"
                   r"(?:\s*[（(](?P<note>[^）)]*)[）)])?")
_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_COUNT = re.compile(r"(?:共|放假)\s*(\d{1,2})\s*天")
#: a line about a holiday's arrangement (one without a date is listed as 未识别, not dropped)
_ARRANGEMENT = re.compile(r"放假|调休|上班|补班|节|元旦")
#: the notice's title, its address line and its opening sentence: nothing to enter, nothing to list
_PREAMBLE = re.compile(r"国务院办公厅|通知如下|经国务院批准|各省|[：:]$")


@dataclass
class NoticeLine:
    """One holiday of a notice, as understood: its name, its days off and its 调休 working days."""
    text: str
    name: str = ""
    off: list[dt.date] = field(default_factory=list)
    workdays: list[dt.date] = field(default_factory=list)
    #: what does not add up (an unreadable part, a weekday or a day count that disagrees)
    problems: list[str] = field(default_factory=list)


@dataclass
class Notice:
    year: int
    lines: list[NoticeLine]
    #: lines that look like an arrangement but carry no date (「端午节放假安排另行通知。」): entered
    #: nowhere, and listed as 未识别 so that nothing is dropped without a word
    unrecognized: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"“{line.name or line.text[:20]}”：{p}" for line in self.lines for p in line.problems]

    def notes(self) -> dict[dt.date, str]:
        """Each day's 说明: the holiday of its own line (春节), not every holiday of the notice."""
        return {day: f"{self.year}年{line.name}" for line in self.lines for day in line.off + line.workdays}

    def days(self) -> dict[dt.date, bool]:
        """Each day the notice names: False for 放假, True for 上班."""
        days: dict[dt.date, bool] = {}
        for line in self.lines:
            days.update({d: False for d in line.off})
            days.update({d: True for d in line.workdays})
        return days


def parse_notice(text: str, year: int) -> Notice:
    """Read the lines of a 国务院办公厅关于某年部分节假日安排的通知; dates without a year are in `year`."""
    raws = [raw.strip() for raw in re.split(r"[\r\n]+", text) if raw.strip()]
    lines = [_parse_line(raw, year) for raw in raws]
    notice = Notice(year, [line for line in lines if line is not None],
                    [raw for raw, line in zip(raws, lines) if line is None and _ARRANGEMENT.search(raw)
                     and not _PREAMBLE.search(raw)])
    seen: dict[dt.date, tuple[bool, str]] = {}
    for line in notice.lines:
        for day, workday in [(d, False) for d in line.off] + [(d, True) for d in line.workdays]:
            if day in seen and seen[day][0] != workday:
                line.problems.append(f"{_cn(day)}既是放假又是上班（另见“{seen[day][1]}”）")
            seen.setdefault(day, (workday, line.name))
    return notice


def _parse_line(text: str, year: int) -> Optional[NoticeLine]:
    body = _NUMBERING.sub("", text).strip()
    line = NoticeLine(text=text)
    match = _NAME.match(body)
    if not match:
        if not _DATE.search(body) or _DATE.fullmatch(body):
            return None  # the notice's preamble, closing words or date of issue: nothing to enter
        line.problems.append("无法识别，应为“节日名：某月某日至某日放假……某月某日上班。”")
        return line
    line.name = match["name"].strip()
    for sentence in re.split(r"[。；;]", match["rest"]):
        if not sentence.strip():
            continue
        dates = list(_DATE.finditer(sentence))
        if "放假" in sentence:
            _read_off(line, sentence, dates, year)
            after = [m for m in dates if m.start() > sentence.index("放假")]
            if after and _works(sentence):  # "……共7天，2月14日上班" with a comma
                line.workdays += [_date_of(line, m, year, None) for m in after]
            elif after:
                line.problems.append(f"“{sentence.strip()}”中放假之后的日期既不是放假也不是上班")
        elif _works(sentence):
            line.workdays += [_date_of(line, m, year, None) for m in dates]
        elif dates:
            line.problems.append(f"“{sentence.strip()}”中的日期既不是放假也不是上班")
    line.off = [d for d in line.off if d is not None]
    line.workdays = [d for d in line.workdays if d is not None]
    if not line.off and not line.workdays and not line.problems:
        line.problems.append("没有读到任何日期")
    return line


def _works(sentence: str) -> bool:
    """A sentence naming 调休 working days: 上班, or 补班 as some reprints say."""
    return "上班" in sentence or "补班" in sentence


def _read_off(line: NoticeLine, sentence: str, dates: list[re.Match], year: int) -> None:
    before = [m for m in dates if m.start() < sentence.index("放假")]
    if not before:
        line.problems.append(f"“{sentence.strip()}”没有写明放假日期")
        return
    first = _date_of(line, before[0], year, None)
    if first is None:
        return
    last = first
    if len(before) > 1:
        if "至" not in sentence[before[0].end():before[1].start()]:
            line.problems.append(f"“{sentence.strip()}”应写作“某日至某日放假”")
            return
        last = _date_of(line, before[1], year, first)
        if last is None:
            return
    if last < first:
        line.problems.append(f"{_cn(last)}早于{_cn(first)}")
        return
    if (last - first).days >= MAX_RUN:
        line.problems.append(f"放假{(last - first).days + 1}天，超过{MAX_RUN}天，请核对")
        return
    run = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    count = _COUNT.search(sentence)
    if count and int(count.group(1)) != len(run):
        line.problems.append(f"{_cn(first)}至{_cn(last)}是{len(run)}天，通知写的是共{count.group(1)}天")
    line.off += run


def _date_of(line: NoticeLine, match: re.Match, year: int, start: Optional[dt.date]) -> Optional[dt.date]:
    """The date a match names; after 至 the month and year default to the start's (or the next year's)."""
    month = int(match["month"]) if match["month"] else (start.month if start else None)
    if month is None:
        line.problems.append(f"“{match.group(0)}”没有写月份")
        return None
    if match["year"]:
        at_year = int(match["year"])
    elif start is not None:
        at_year = start.year + (1 if month < start.month else 0)  # 12月31日至1月2日
    else:
        at_year = year
    try:
        day = dt.date(at_year, month, int(match["day"]))
    except ValueError:
        line.problems.append(f"{at_year}年没有{month}月{match['day']}日")
        return None
    said = _WEEKDAY.search(match["note"] or "")
    if said:
        named = WEEKDAY_NAMES.index("日" if said.group(1) == "天" else said.group(1))
        if named != day.weekday():
            line.problems.append(f"{_cn(day)}是星期{WEEKDAY_NAMES[day.weekday()]}，通知写的是星期"
                                 f"{WEEKDAY_NAMES[named]}：年份是否填错？")
    return day


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def official_knows(year: int) -> bool:
    """Whether the installed chinesecalendar carries the State Council's days for `year`."""
    try:
        chinese_calendar.is_workday(dt.date(year, 7, 1))
        return True
    except NotImplementedError:
        return False


def official_workday(day: dt.date) -> Optional[bool]:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


@dataclass
class Difference:
    """An override that the official calendar, now knowing its year, contradicts."""
    day: dt.date
    workday: bool  #: what the override says
    official: bool  #: what chinesecalendar says


def overrides_of(year: int) -> list[HolidayOverride]:
    return list(db.session.scalars(
        select(HolidayOverride).where(HolidayOverride.day >= dt.date(year, 1, 1),
                                      HolidayOverride.day <= dt.date(year, 12, 31))
        .order_by(HolidayOverride.day)))


def differences(overrides: list[HolidayOverride]) -> list[Difference]:
    """The overrides that disagree with the official data of a year chinesecalendar knows."""
    found = []
    for o in overrides:
        official = official_workday(o.day)
        if official is not None and official != o.workday:
            found.append(Difference(o.day, o.workday, official))
    return found


@dataclass
class Change:
    """A period whose 报送截止 moves (or would move)."""
    period: Period
    old: dt.date
    new: dt.date

    @property
    def text(self) -> str:
        new = f"{self.new.month}月{self.new.day}日" if self.new.year == self.old.year else _cn(self.new)
        return f"第{self.period.seq}期 报送截止 {_cn(self.old)} → {new}"


@dataclass
class Plan:
    """What recomputing the due dates does: the changes, and the periods left alone because the new
    date would already be past (moving them would turn on-time submissions into late ones)."""
    changes: list[Change]
    kept: list[Change]


def plan_dues(calendar: Calendar, today: dt.date) -> Plan:
    """节假日顺延 again for every period whose due date is not yet past; past periods never move."""
    plan = Plan([], [])
    periods = db.session.scalars(select(Period).where(Period.due >= today)
                                 .order_by(Period.campaign_id, Period.seq))
    for period in periods:
        new = calendar.next_workday(period.nominal_due)
        if new == period.due:
            continue
        (plan.changes if new >= today else plan.kept).append(Change(period, period.due, new))
    return plan


def with_days(days: dict[dt.date, bool]) -> Calendar:
    """The stored calendar with these days entered on top."""
    calendar = Calendar.from_db()
    return Calendar({**calendar.overrides, **days})


@dataclass
class Outcome:
    added: int
    updated: int
    plan: Plan


def enter_days(days: dict[dt.date, bool], user: Optional[User], note: str = "",
               notes: Optional[dict[dt.date, str]] = None) -> Outcome:
    """Save 放假 (False) and 上班 (True) days, recompute the due dates not yet past, audit both.
    Each day's 说明 is its own in `notes` (its holiday), else `note`."""
    if not days:
        raise ValueError("没有要录入的日期")
    existing = {o.day: o for o in db.session.scalars(
        select(HolidayOverride).where(HolidayOverride.day.in_(list(days))))}
    before, added, updated = {}, 0, 0
    notes = notes or {}
    for day, workday in sorted(days.items()):
        row = existing.get(day)
        said = notes.get(day, note)
        if row is None:
            db.session.add(HolidayOverride(day=day, workday=workday, note=said[:100]))
            added += 1
        elif row.workday != workday or (said and row.note != said[:100]):
            before[day.isoformat()] = _kind(row.workday)
            row.workday, row.note = workday, (said[:100] or row.note)
            updated += 1
    db.session.flush()
    plan = apply_plan(user)
    years = sorted({d.year for d in days})
    # The moved periods are named in each campaign's own entry (apply_plan), at its root region,
    # so that one city's log never lists another city's campaigns; here only their number.
    audit.record("holiday.update", user, region=user.region if user else None,
                 target=f"节假日调整 {'、'.join(f'{y}年' for y in years)} {note}".strip(),
                 before=before or None,
                 after={"days": {d.isoformat(): _kind(w) for d, w in sorted(days.items())},
                        "periods_moved": len(plan.changes)})
    return Outcome(added, updated, plan)


def remove_days(days: list[dt.date], user: Optional[User]) -> tuple[int, Plan]:
    """Delete overrides (the official calendar, or weekends, apply again) and recompute."""
    rows = list(db.session.scalars(select(HolidayOverride).where(HolidayOverride.day.in_(days))))
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    plan = apply_plan(user)
    if rows:
        audit.record("holiday.update", user, region=user.region if user else None, target="删除节假日调整",
                     before={r.day.isoformat(): _kind(r.workday) for r in rows},
                     after={"periods_moved": len(plan.changes)})
    return len(rows), plan


def apply_plan(user: Optional[User]) -> Plan:
    """Move the due dates the stored calendar now gives, each move kept for the filers' home page."""
    today = clock.today()
    plan = plan_dues(Calendar.from_db(), today)
    by_campaign: dict[int, list[Change]] = {}
    for change in plan.changes:
        change.period.due = change.new
        db.session.add(DueChange(period=change.period, old_due=change.old, new_due=change.new,
                                 changed_at=clock.now(), changed_by_id=user.id if user else None))
        by_campaign.setdefault(change.period.campaign_id, []).append(change)
    for changes in by_campaign.values():
        campaign = changes[0].period.campaign
        versions.bump_all(campaign)  # a moved due date moves who is 逾期
        # One entry per campaign, at its root, so that city's own log shows its moved dates. The
        # calendar is national: another city's campaign is named by the author's name only, or the
        # author's log (which lists the entries of its users) would show that city's campaigns.
        own = user is not None and campaign.covers(user.region)
        audit.record("period.reschedule", user if own else None, username=user.username if user else None,
                     region=campaign.root, target=f"征缴期 {campaign.id} {campaign.name}",
                     before={str(c.period.seq): c.old.isoformat() for c in changes},
                     after={str(c.period.seq): c.new.isoformat() for c in changes})
    db.session.flush()
    return plan


def _kind(workday: bool) -> str:
    return "上班" if workday else "放假"


def due_changes(campaign: Campaign, today: dt.date) -> list[Change]:
    """The moved due dates of a campaign's periods not yet past: from the first date announced to now."""
    rows = db.session.scalars(
        select(DueChange).join(Period).where(Period.campaign_id == campaign.id, Period.due >= today)
        .order_by(Period.seq, DueChange.id))
    first: dict[int, Change] = {}
    for row in rows:
        first.setdefault(row.period_id, Change(row.period, row.old_due, row.period.due))
    return [c for c in first.values() if c.old != c.new]


def uncovered_periods(campaign: Campaign, today: dt.date) -> dict[int, list[Period]]:
    """Per year that neither chinesecalendar nor the overrides cover: the periods not yet past it touches."""
    override_years = {d.year for d in db.session.scalars(select(HolidayOverride.day))}
    affected: dict[int, list[Period]] = {}
    for period in campaign.periods:
        if period.is_overdue(today):
            continue
        for year in sorted({period.nominal_due.year, period.due.year}):
            if year not in override_years and not official_knows(year):
                affected.setdefault(year, []).append(period)
    return affected


def parse_run(text: str) -> list[dt.date]:
    """DATE or DATE..DATE (ISO dates), as the command line takes them."""
    first, _, last = text.partition("..")
    try:
        start = dt.date.fromisoformat(first.strip())
        end = dt.date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise ValueError(f"日期应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD，而不是 {text}") from None
    if end < start:
        raise ValueError(f"{end} 早于 {start}")
    if (end - start).days >= MAX_RUN:
        raise ValueError(f"一次最多录入{MAX_RUN}天，而 {text} 有{(end - start).days + 1}天")
    return [start + ONE_DAY * n for n in range((end - start).days + 1)]


def official_last_year() -> int:
    """The last year the installed chinesecalendar covers."""
    year = clock.today().year - 1
    while official_knows(year + 1) and year < 2200:
        year += 1
    return year
