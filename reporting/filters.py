"""How numbers and dates look on pages and in documents: formatted in one place."""
from __future__ import annotations

import datetime as dt
from typing import Optional


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


def init_app(app) -> None:
    for f in (count, percent, points, month_day, cn_date, cn_datetime, weekday):
        app.add_template_filter(f)
