"""How numbers and dates look on pages and in documents: formatted in one place."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from markupsafe import Markup


def count(value: Optional[int]) -> str:
    """A count with 千分位 separators; blank for nothing."""
    return "" if value is None else f"{value:,}"


def percent(value: Optional[float]) -> str:
    """A fraction as a percentage with two decimals: 0.95123 -> 95.12%. A value short of 100%
    never prints as 100.00% (0.99996 -> 99.99%): a bureau reads 100.00% as done."""
    if value is None:
        return "—"
    text = f"{value * 100:.2f}"
    if value < 1 and text == "100.00":
        text = "99.99"
    return f"{text}%"


def points(value: Optional[float]) -> str:
    """A difference of fractions in percentage points, signed: 0.0123 -> +1.23."""
    return "—" if value is None else f"{value * 100:+.2f}"


def month_day(value: dt.date) -> str:
    return f"{value.month}月{value.day}日"


def cn_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: Optional[dt.datetime]) -> str:
    return "" if value is None else f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"


WEEKDAYS = "一二三四五六日"


def weekday(value: dt.date) -> str:
    return "周" + WEEKDAYS[value.weekday()]


#: a unit's or a department's 报送 state for a period in words (FilingCounts.status, filing.late_status):
#: every screen and workbook says these; a printed table's narrow column says circular_wording.TABLE_STATES
LATE_NAMES = {"on_time": "按时", "late": "迟报", "missing": "逾期未报", "pending": "待报"}
LATE_BADGES = {"on_time": "green", "late": "red", "missing": "red", "pending": "amber"}


def late_badge(state: str) -> Markup:
    """The state as a badge: 待报 until the due day has passed, 逾期未报 after it."""
    return Markup('<span class="badge {}">{}</span>').format(LATE_BADGES[state], LATE_NAMES[state])


def init_app(app) -> None:
    for f in (count, percent, points, month_day, cn_date, cn_datetime, weekday, late_badge):
        app.add_template_filter(f)
