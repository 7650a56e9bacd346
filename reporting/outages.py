"""A dependency that is down (Redis) is logged once a minute, not once per request."""
from __future__ import annotations

import logging
import threading

from reporting import clock

#: how often one dependency's outage is logged while it lasts, in seconds of the machine's clock (a
#: clock stopped by REPORTING_TODAY would log it once only)
EVERY = 60.0
logger = logging.getLogger("reporting.outages")
_last: dict[str, float] = {}
_lock = threading.Lock()


def report(what: str, error: BaseException) -> bool:
    """Log that `what` is unreachable, unless it was logged less than a minute ago; True when logged."""
    now = clock.elapsed()
    with _lock:
        last = _last.get(what)
        if last is not None and now - last < EVERY:
            return False
        _last[what] = now
    logger.warning("%s 不可用，暂以数据库或进程内处理代替：%s", what, type(error).__name__)
    return True


def forget() -> None:
    """Forget every outage logged so far: the next one of each is logged at once (a new process's
    view; each test starts from it)."""
    with _lock:
        _last.clear()
