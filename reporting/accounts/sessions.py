"""Login sessions: one per signed-in browser, listed on the account page and ended one by one."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Optional

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from reporting import clock
from reporting.extensions import db
from reporting.models import LoginSession, User

#: a session's last change is written at most this often (a write per request would be wasteful)
SEEN_EVERY = dt.timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(user: User, address: str = "", agent: str = "") -> LoginSession:
    """A new session for `user`; the key its cookie carries is set on `user.login_key`."""
    if not user.session_nonce:
        user.session_nonce = secrets.token_hex(16)
    key = secrets.token_urlsafe(32)
    row = LoginSession(user=user, digest=_digest(key), nonce=user.session_nonce,
                       address=(address or "")[:45], agent=(agent or "")[:200])
    db.session.add(row)
    user.login_key = key
    return row


#: a session by its key's digest, with its user and the user's region (every page names it): on
#: every request, so built once, and one statement
_BY_DIGEST = (select(LoginSession).options(joinedload(LoginSession.user).joinedload(User.region))
              .where(LoginSession.digest == bindparam("digest")))


def resume(session_id: str) -> tuple[Optional[User], Optional[LoginSession]]:
    """The user and session a cookie's id ("user id:key") names, if that session is still on."""
    user_id, _, key = session_id.partition(":")
    if not user_id.isdigit() or not key:
        return None, None
    row = db.session.scalar(_BY_DIGEST, {"digest": _digest(key)})
    if row is None or row.user_id != int(user_id) or not is_on(row):
        return None, None
    row.user.login_key = key
    return row.user, row


def is_on(row: LoginSession) -> bool:
    return row.ended_at is None and secrets.compare_digest(row.nonce, row.user.session_nonce or "")


def touch(row: LoginSession) -> bool:
    """Note that the session is in use, at most once per SEEN_EVERY; whether it wrote."""
    now = clock.now()
    if row.seen_at is not None and dt.timedelta(0) <= now - row.seen_at < SEEN_EVERY:
        return False
    row.seen_at = now
    return True


def end(row: LoginSession) -> None:
    if row.ended_at is None:
        row.ended_at = clock.now()


def active(user: User, idle: dt.timedelta) -> list[LoginSession]:
    """The user's sessions still on and used within `idle`, newest first."""
    rows = db.session.scalars(select(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.ended_at.is_(None),
        LoginSession.nonce == user.session_nonce).order_by(LoginSession.created_at.desc()))
    since = clock.now() - idle
    return [r for r in rows if r.seen_at >= since]


def end_others(user: User, keep: LoginSession) -> int:
    """退出其他设备: every session of the user but `keep` ends; how many did."""
    result = db.session.execute(
        update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.id != keep.id,
                                   LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now()).execution_options(synchronize_session=False))
    return result.rowcount


def browser_name(agent: str) -> str:
    """A short name for a User-Agent string, as the account page shows it."""
    for token, name in (("Edg/", "Edge"), ("MicroMessenger", "微信"), ("DingTalk", "钉钉"),
                        ("QQBrowser", "QQ浏览器"), ("360", "360浏览器"), ("Firefox/", "Firefox"),
                        ("Chrome/", "Chrome"), ("Safari/", "Safari")):
        if token in agent:
            return name
    return "其他浏览器" if agent else "未知"
