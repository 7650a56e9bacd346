"""The server's clock in China Standard Time: the one place that reads the time, and the one that can be set.

`REPORTING_TODAY` (an environment variable, so that every process started from a shell or a test shares
it: the flask CLI, gunicorn, RQ workers, `reminders auto`) stops the clock at a moment of its choosing:
`2026-12-16` is that day at 10:00 in Beijing, `2026-12-16T23:59:30` that very second. Unset, the clock
reads the machine's. Production leaves it unset; a test sets the day it needs.
"""
import datetime as dt
import functools
import os
import time
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
SETTING = "REPORTING_TODAY"
#: the hour a setting of a bare date stands for: office hours, when people file and review
DATE_ONLY_HOUR = 10


class ClockSettingError(ValueError):
    pass


@functools.lru_cache(maxsize=8)
def parse_setting(value: str) -> dt.datetime:
    """`2026-12-16` → 10:00 that day; `2026-12-16T23:59:30` (or with a space) → that moment, naive Beijing time."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(DATE_ONLY_HOUR))
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ClockSettingError(f"{SETTING}={value!r} 不是日期（2026-12-16）或时刻（2026-12-16T23:59:30）") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZONE).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def setting() -> dt.datetime | None:
    """The moment the setting stops the clock at, or None when the clock runs."""
    value = os.environ.get(SETTING)
    return parse_setting(value) if value else None


def now() -> dt.datetime:
    """The current time in Beijing, naive (the database stores naive local times)."""
    value = os.environ.get(SETTING)
    if value:
        return parse_setting(value)
    return dt.datetime.now(ZONE).replace(tzinfo=None, microsecond=0)


def today() -> dt.date:
    return now().date()


def elapsed() -> float:
    """Seconds on the machine's monotonic clock, never the setting: for how long since, within one
    process (how often an outage is logged), not for what day it is."""
    return time.monotonic()


def wall_ms() -> int:
    """Milliseconds since the epoch by the machine's clock, never the setting: for a peer that checks the
    real time (a 钉钉 robot refuses a signature more than an hour off)."""
    return int(time.time() * 1000)
