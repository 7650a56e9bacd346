"""Reporting periods: due dates with 节假日顺延, and the 序时进度 of a collection window."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import chinese_calendar
from sqlalchemy import select

from reporting.extensions import db
from reporting.models import Campaign, HolidayOverride, Period

ONE_DAY = dt.timedelta(days=1)


class Calendar:
    """Working days: the official calendar, corrected by the admin's override table.

    Years the official calendar does not cover fall back to "weekends off" and are
    remembered in `uncovered_years`, so that callers can warn about them.
    """

    def __init__(self, overrides: Optional[dict[dt.date, bool]] = None):
        self.overrides = overrides or {}
        self.uncovered_years: set[int] = set()
        # a year whose days an admin has entered is known: weekends elsewhere in it are by decision
        self._entered_years = {day.year for day in self.overrides}

    @classmethod
    def from_db(cls) -> "Calendar":
        return cls({o.day: o.workday for o in db.session.scalars(select(HolidayOverride))})

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self._entered_years:
                self.uncovered_years.add(day.year)
            return day.weekday() < 5

    def next_workday(self, day: dt.date) -> dt.date:
        """节假日顺延: the day itself if it is a working day, else the next one."""
        while not self.is_workday(day):
            day += ONE_DAY
        return day


def uncovered_warning(years: set[int], periods: Optional[list[Period]] = None) -> Optional[str]:
    """The warning for years the official calendar does not know, naming the periods they touch."""
    if not years:
        return None
    listed = "、".join(f"{y}年" for y in sorted(years))
    affected = [p for p in periods or [] if {p.nominal_due.year, p.due.year} & years]
    named = "、".join(f"第{p.seq}期（{p.nominal_due.month}月{p.nominal_due.day}日）" for p in affected)
    return (f"警告：官方节假日日历尚未收录{listed}的安排，{named + '的' if named else '这些年份的'}"
            "截止日期只按周末顺延；请管理员在“节假日调整”页面（/admin/holidays）或用 "
            "flask holidays add 补充放假和调休日期，截止日期随即重新计算。")


def nominal_dues(rhythm: str, first_due: dt.date, last_as_of: dt.date) -> list[dt.date]:
    """The nominal due dates from `first_due` while the day before stays within the window."""
    dues = []
    due = first_due
    while due - ONE_DAY <= last_as_of:
        dues.append(due)
        if rhythm == "weekly":
            due += dt.timedelta(days=7)
        elif due.day == 1:
            due = due.replace(day=15)
        else:
            due = (due.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return dues


def default_first_due(rhythm: str, start: dt.date) -> dt.date:
    """The first 1st or 15th after `start` (semi-monthly), or a week after it (weekly)."""
    if rhythm == "weekly":
        return start + dt.timedelta(days=7)
    if start.day < 15:
        return start.replace(day=15)
    return (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@dataclass
class Schedule:
    periods: list[Period]
    warning: Optional[str]


def build_periods(campaign: Campaign, first_due: Optional[dt.date] = None,
                  calendar: Optional[Calendar] = None) -> Schedule:
    """Make the campaign's periods (not yet added to the session)."""
    calendar = calendar or Calendar.from_db()
    if campaign.rhythm == "semimonthly" and first_due and first_due.day not in (1, 15):
        raise ValueError(f"半月报的首个截止日期应为1日或15日，而不是{first_due.isoformat()}")
    first_due = first_due or default_first_due(campaign.rhythm, campaign.start)
    periods = [Period(seq=n, nominal_due=due, as_of=due - ONE_DAY, due=calendar.next_workday(due))
               for n, due in enumerate(nominal_dues(campaign.rhythm, first_due, campaign.closes_on),
                                       start=1)]
    return Schedule(periods, uncovered_warning(calendar.uncovered_years, periods))


def reschedule(campaign: Campaign, calendar: Optional[Calendar] = None) -> Optional[str]:
    """Recompute the due dates of existing periods after the override table changed."""
    calendar = calendar or Calendar.from_db()
    for period in campaign.periods:
        period.due = calendar.next_workday(period.nominal_due)
    return uncovered_warning(calendar.uncovered_years, campaign.periods)


def shift_years(day: dt.date, years: int) -> dt.date:
    """The same day `years` later (or earlier); 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def same_day_last_year(day: dt.date) -> dt.date:
    """上年同期's date: the day a year before (29 February → 28 February)."""
    return shift_years(day, -1)


def time_progress(campaign: Campaign, as_of: dt.date) -> float:
    """序时进度: (as_of − start + 1) / (end − start + 1), held within 0 and 1."""
    elapsed = (as_of - campaign.start).days + 1
    total = (campaign.end - campaign.start).days + 1
    return min(max(elapsed / total, 0.0), 1.0)


def current_period(campaign: Campaign, today: dt.date) -> Optional[Period]:
    """The period being filed now: the first whose due date is today or later, else the last."""
    for period in campaign.periods:
        if period.due >= today:
            return period
    return campaign.periods[-1] if campaign.periods else None
