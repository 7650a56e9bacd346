"""Accounts: the password policy, users inside an admin's subtree, login lockout, and API tokens."""
from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from typing import Optional

from sqlalchemy import select, update

from reporting import access, audit, clock
from reporting.extensions import db
from reporting.models import ROLES, ApiToken, Region, User

#: 等保2.0 三级 (GB/T 22239-2019 8.1.4.1): at least 8 characters of at least 3 of the 4 classes
MIN_PASSWORD_LENGTH = 8
MIN_CLASSES = 3
#: passwords people pick first; a password containing one of these as its whole is refused
COMMON_PASSWORDS = {
    "password", "passw0rd", "p@ssw0rd", "p@ssword", "123456", "1234567", "12345678", "123456789",
    "1234567890", "12345678910", "123123", "123321", "111111", "000000", "666666", "888888",
    "654321", "qwerty", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t",
    "qazwsx", "abc123", "abcd1234", "a123456", "aa123456", "iloveyou", "woaini", "woaini1314",
    "5201314", "admin", "admin123", "administrator", "root", "welcome", "letmein", "monkey",
    "dragon", "master", "sunshine", "princess", "football", "baseball", "superman", "trustno1",
    "changeme", "default", "guest", "test", "test123", "qwe123", "zaq12wsx", "yibao", "yibao123",
    "shebao", "gongzuo", "mima", "mima123", "jiangmen", "guangdong", "beijing", "shanghai",
}


def password_problem(password: str, username: str = "") -> Optional[str]:
    """Why a password is refused (in Chinese), or None when it is acceptable. The one password
    rule: the command line, the admin's pages, a user's own change and a reset all ask it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少{MIN_PASSWORD_LENGTH}个字符"
    if character_classes(password) < MIN_CLASSES:
        return f"密码须包含大写字母、小写字母、数字、符号中的至少{MIN_CLASSES}类"
    lowered = password.lower()
    stripped = re.sub(r"[\d!@#$%^&*._\-]+$", "", lowered)  # "password2024!" is still "password"
    if lowered in COMMON_PASSWORDS or stripped in COMMON_PASSWORDS:
        return "该密码过于常见，请换一个"
    if len(set(lowered)) <= 3:
        return "密码不能由少数几个字符重复组成"
    if lowered.isdigit() and all((int(b) - int(a)) % 10 in (1, 9) for a, b in zip(lowered, lowered[1:])):
        return "密码不能是连续的数字"
    # not the username, nor containing it (a name of one to three letters would rule out too much)
    name = (username or "").lower()
    if name and (lowered == name or (len(name) >= 4 and name in lowered)):
        return "密码不能包含用户名"
    return None


def character_classes(password: str) -> int:
    """How many of 大写字母, 小写字母, 数字 and 符号 (anything else, a Chinese character too) it uses."""
    kinds = [any(c in string.ascii_uppercase for c in password), any(c in string.ascii_lowercase for c in password),
             any(c in string.digits for c in password),
             any(c not in string.ascii_letters + string.digits for c in password)]
    return sum(kinds)


def generated_password() -> str:
    """A random initial password that meets the rule (the user changes it at first login)."""
    while True:
        password = secrets.token_urlsafe(12) + "-"
        if password_problem(password) is None:
            return password


def password_expired(user: User, now: dt.datetime, max_age_days: int) -> bool:
    """PASSWORD_MAX_AGE_DAYS (0: never): a password set longer ago must be changed (the migration
    that brought the rule dates the passwords it found)."""
    if not max_age_days or user.password_changed_at is None:
        return False
    return now - user.password_changed_at >= dt.timedelta(days=max_age_days)


def must_change_password(user: User, now: dt.datetime, max_age_days: int) -> Optional[str]:
    """Why the user must pick a new password before anything else, or None."""
    if user.must_change_password:
        return "您的密码由管理员设置，请先修改密码"
    if password_expired(user, now, max_age_days):
        return f"您的密码已使用超过{max_age_days}天，请修改密码"
    return None


# --- login failures: 5 wrong passwords within 15 minutes lock the account for 15 minutes --------
LOCK_AFTER = 5
LOCK_WINDOW = dt.timedelta(minutes=15)
LOCK_FOR = dt.timedelta(minutes=15)


def locked_until(user: User, now: dt.datetime) -> Optional[dt.datetime]:
    """When the account's lock ends, while it is locked."""
    return user.locked_until if user.locked_until is not None and user.locked_until > now else None


def lock_message(until: dt.datetime) -> str:
    return (f"该账号因连续{LOCK_AFTER}次密码错误已被锁定，请于{until:%H:%M}后再试，"
            "或联系安全管理员解锁")


def note_failure(user: User, now: dt.datetime) -> Optional[dt.datetime]:
    """Count a wrong password (in the database, so every instance sees it); when it is the fifth
    within 15 minutes, lock the account and return until when."""
    # the row is locked while counting, so that two instances' failures at once are both counted
    db.session.execute(select(User).where(User.id == user.id).with_for_update()
                       .execution_options(populate_existing=True)).scalar_one()
    if user.failed_since is None or now - user.failed_since >= LOCK_WINDOW:
        user.failed_logins, user.failed_since = 0, now
    user.failed_logins += 1
    if user.failed_logins < LOCK_AFTER:
        return None
    user.locked_until, user.failed_logins, user.failed_since = now + LOCK_FOR, 0, None
    audit.record("login.locked", user, region=user.region, target=f"用户 {user.username}",
                 after={"locked_until": user.locked_until.isoformat(sep=" ")})
    return user.locked_until


def note_success(user: User) -> None:
    if user.failed_logins or user.failed_since is not None or user.locked_until is not None:
        user.failed_logins, user.failed_since, user.locked_until = 0, None, None


def unlock(admin: Optional[User], user: User) -> None:
    """A security admin (the city admin without 三员分立), or the command line (None), lifts a
    lock before it ends."""
    if admin is not None and not manageable(admin, user.region):
        raise AccountError("无权解锁该用户")
    before = {"locked_until": user.locked_until.isoformat(sep=" ") if user.locked_until else None}
    user.locked_until, user.failed_logins, user.failed_since = None, 0, None
    audit.record("user.unlock", admin, region=user.region, target=f"用户 {user.username}", before=before)


def end_sessions(admin: User, user: User) -> None:
    """强制退出: every signed-in browser of the user is signed out (API tokens are left alone)."""
    if not manageable(admin, user.region):
        raise AccountError("无权让该用户退出登录")
    user.session_nonce = secrets.token_hex(16)
    audit.record("user.sessions_end", admin, region=user.region, target=f"用户 {user.username}")


class AccountError(ValueError):
    """A change to an account that is not allowed; the message says why."""


def manageable(admin: User, region: Region) -> bool:
    """An account admin (access.ACCOUNTS) manages users bound to their own subtree, nowhere else."""
    return access.can(admin, access.ACCOUNTS) and admin.region.contains(region)


def users_of(admin: User):
    top = admin.region
    column = Region.id if top.level == "village" else getattr(Region, f"{top.level}_id")
    return (select(User).join(Region, Region.id == User.region_id).where(column == top.id)
            .order_by(Region.code, User.username))


def create_user(admin: User, *, username: str, role: str, region: Region, password: str,
                full_name: str = "", phone: str = "") -> User:
    if role not in ROLES:
        raise AccountError("角色无效")
    if not manageable(admin, region):
        raise AccountError(f"只能在{admin.region.name}范围内建立用户")
    if db.session.scalar(select(User).where(User.username == username)):
        raise AccountError(f"用户名 {username} 已存在")
    problem = password_problem(password, username)
    if problem:
        raise AccountError(problem)
    user = User(username=username, role=role, region=region, full_name=full_name, phone=phone,
                session_nonce=secrets.token_hex(16), must_change_password=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", admin, region=region, target=f"用户 {username}",
                 after={"role": role, "region": region.code, "full_name": full_name, "phone": phone})
    return user


def update_user(admin: User, user: User, *, role: str, region: Region, full_name: str, phone: str,
                active: bool) -> None:
    if not manageable(admin, user.region) or not manageable(admin, region):
        raise AccountError(f"只能管理{admin.region.name}范围内的用户")
    if role not in ROLES:
        raise AccountError("角色无效")
    if user.id == admin.id and (not active or role != admin.role):
        raise AccountError("不能停用自己或改变自己的角色")
    if role == "department_filer" and (user.department is None or region.id != user.department.region_id):
        raise AccountError("部门填报员须用 flask users create --department 绑定部门，所属区划为部门所在区划")
    if role != "department_filer":
        user.department = None
    before = {"role": user.role, "region": user.region.code, "full_name": user.full_name,
              "phone": user.phone, "active": user.active}
    user.role, user.region, user.full_name, user.phone, user.active = role, region, full_name, phone, active
    if not active:
        user.session_nonce = secrets.token_hex(16)  # a disabled user is signed out everywhere
    audit.record("user.update", admin, region=region, target=f"用户 {user.username}", before=before,
                 after={"role": role, "region": region.code, "full_name": full_name, "phone": phone,
                        "active": active})


def set_password(actor: User, user: User, password: str) -> None:
    """A user's own change, or an admin's reset; other sessions of the user end either way."""
    if actor.id != user.id and not manageable(actor, user.region):
        raise AccountError("无权重置该用户的密码")
    problem = password_problem(password, user.username)
    if problem:
        raise AccountError(problem)
    user.set_password(password)
    # a password an admin set is the admin's knowledge: its owner replaces it at the next login
    user.must_change_password = actor.id != user.id
    user.session_nonce = secrets.token_hex(16)
    # a new password ends every way in the old one opened: the API tokens too (docs/deployment.md: sessions, tokens and limits)
    revoked = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now()).execution_options(synchronize_session="fetch")).rowcount
    audit.record("user.password", actor, region=user.region, target=f"用户 {user.username}",
                 after={"by": "本人" if actor.id == user.id else "管理员重置", "tokens_revoked": revoked})


def create_token(actor: User, user: User, label: str = "") -> str:
    """A new token, returned once in clear; only its hash is kept."""
    if actor.id != user.id and not manageable(actor, user.region):
        raise AccountError("无权为该用户生成令牌")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, digest=ApiToken.hash(token), label=label[:100]))
    audit.record("token.create", actor, region=user.region, target=f"用户 {user.username} 的API令牌",
                 after={"label": label})
    return token


def revoke_token(actor: User, token: ApiToken) -> None:
    if actor.id != token.user_id and not manageable(actor, token.user.region):
        raise AccountError("无权撤销该令牌")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.record("token.revoke", actor, region=token.user.region,
                     target=f"用户 {token.user.username} 的API令牌 {token.id}", after={"label": token.label})
