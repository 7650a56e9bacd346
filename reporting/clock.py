"""The server's clock in China Standard Time, in one place so that tests can move it."""
import datetime as dt
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    """The current time in Beijing, naive (the database stores naive local times)."""
    return dt.datetime.now(ZONE).replace(tzinfo=None, microsecond=0)


def today() -> dt.date:
    return now().date()
