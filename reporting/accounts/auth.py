"""Signing in and out, with per-account and per-address rate limits and a server-side session end."""
from __future__ import annotations

import functools
import secrets

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from forms.auth import LoginForm
from reporting import audit, clock
from reporting.accounts import accounts, sessions
from reporting.extensions import db, limiter, login_manager
from reporting.models import User

bp = Blueprint("auth", __name__)

#: what an htmx request hears when its login has lapsed; static/session.js shows it as a banner
LAPSED = "登录已失效，刚才的修改未保存"


@login_manager.user_loader
def load_user(session_id: str):
    """A cookie names the user and one of their login sessions, which must still be on."""
    user, row = sessions.resume(session_id)
    g.login_session = row
    return user


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: never another site, however spelt
    (//host, /\\host, a tab or newline that browsers drop, a scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 33 or c in "\\\x7f" for c in target):
        return None
    return target


def lapsed(message: str = "", code: int = 302):
    """The answer to a request whose login has ended: a 401 an htmx page shows (the grid keeps what
    was typed), or the login page for a whole page, coming back here afterwards."""
    if request.htmx:
        response = make_response(LAPSED, 401)
        response.headers["HX-Reswap"] = "none"
        return response
    flash(message or login_manager.login_message)
    back = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
    return redirect(url_for("auth.login", next=local_path(back) if request.method == "GET" else None),
                    code=code)


login_manager.unauthorized_handler(lapsed)


@bp.before_app_request
def end_idle_sessions():
    """The idle timeout, checked on the server: a session unused for too long is signed out."""
    if not current_user.is_authenticated:
        return None
    now = int(clock.now().timestamp())
    seen = session.get("seen")
    limit = current_app.permanent_session_lifetime.total_seconds()
    row = g.get("login_session")
    if isinstance(seen, int) and now - seen > limit:
        if row is not None:
            sessions.end(row)
            _commit_if_writable()
        logout_user()
        # the page's CSRF token stays: the rows typed next must hear "login lapsed" (401), not a 400
        token = session.get("csrf_token")
        session.clear()
        if token:
            session["csrf_token"] = token
        if request.path.startswith("/api/"):
            return None
        return lapsed("长时间未操作，已自动退出，请重新登录", 303)
    if not isinstance(seen, int) or not 0 <= now - seen < sessions.SEEN_EVERY.total_seconds():
        # noted at most once a minute: an unchanged session is not signed and sent back again
        session["seen"] = now
    if row is not None and sessions.touch(row):
        _commit_if_writable()
    return _password_first()


#: what a user who must change their password may still open
PASSWORD_FIRST_OPEN = {"admin.change_password", "auth.logout", "auth.login", "static"}


def _password_first():
    """An account whose password an admin set (or that is older than PASSWORD_MAX_AGE_DAYS) opens
    only 修改密码 until it has one of its own. The JSON API, on bearer tokens, is not concerned:
    a token is given to a program on purpose, and an admin's reset revokes them all."""
    if request.endpoint in PASSWORD_FIRST_OPEN or request.path.startswith("/api/"):
        return None
    reason = accounts.must_change_password(current_user, clock.now(),
                                           current_app.config.get("PASSWORD_MAX_AGE_DAYS", 0))
    if reason is None:
        return None
    if request.htmx:
        response = make_response(reason, 403)
        response.headers["HX-Redirect"] = url_for("admin.change_password")
        return response
    flash(reason)
    return redirect(url_for("admin.change_password"), code=303)


def _commit_if_writable() -> None:
    try:
        db.session.commit()
    except DBAPIError:  # a read-only replica serving a dashboard: the primary's next request notes it
        db.session.rollback()


@functools.cache
def _stand_in() -> User:
    """A user nobody can be, hashed as real passwords are, for the names that match no account."""
    stand_in = User()
    stand_in.set_password(secrets.token_hex(16))
    return stand_in


def _username() -> str:
    return (request.form.get("username") or "").strip().lower()[:50] or "-"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"], error_message="登录尝试过于频繁，请稍后再试")
@limiter.limit("5 per minute", key_func=_username, methods=["POST"],
               error_message="该账号登录失败次数过多，请一分钟后再试")
def login():
    form = LoginForm()
    if form.validate_on_submit():
        name = form.username.data.strip()
        # a control character (a NUL byte) names no one, and PostgreSQL refuses it in a query
        user = None if any(ord(c) < 32 for c in name) else \
            db.session.scalar(select(User).where(User.username == name))
        now = clock.now()
        until = accounts.locked_until(user, now) if user is not None else None
        if until is not None:
            # locked: the password is not even tried, so that guessing goes no further
            audit.record("login.failure", user, target=f"用户 {user.username}", after={"locked": True})
            db.session.commit()
            form.password.errors.append(accounts.lock_message(until))
            return render_template("auth/login.html", form=form), 200
        # an unknown name is checked against a stand-in hash: both answers take one hash's time
        matches = (user or _stand_in()).check_password(form.password.data)
        if user is not None and user.active and matches:
            accounts.note_success(user)
            if current_user.is_authenticated and g.get("login_session") is not None:
                sessions.end(g.login_session)  # this browser's previous login is replaced
            session.clear()  # a fresh session at login: nothing from before carries over
            # a session of its own: the other people using this account stay signed in
            sessions.start(user, request.remote_addr or "", request.user_agent.string)
            audit.record("login.success", user, region=user.region, target=f"用户 {user.username}")
            db.session.commit()
            login_user(user)
            # The cookie lasts while the browser is open and carries no expiry date: a date set by the
            # server's clock is already past on a PC whose clock runs behind. The idle timeout
            # (PERMANENT_SESSION_LIFETIME) is kept here, by `seen` and by the signature's age.
            return redirect(local_path(request.args.get("next")) or url_for("home.index"), code=303)
        shown = "".join(c if ord(c) >= 32 else "?" for c in name)
        audit.record("login.failure", user, username=shown[:50], target=f"用户 {shown[:40]}")
        locked = accounts.note_failure(user, now) if user is not None and user.active and not matches else None
        db.session.commit()
        form.password.errors.append(accounts.lock_message(locked) if locked else "用户名或密码错误")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    user = current_user._get_current_object()
    if g.get("login_session") is not None:
        sessions.end(g.login_session)  # this browser only; every copy of its cookie stops working
    audit.record("logout", user, region=user.region, target=f"用户 {user.username}")
    db.session.commit()
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"), code=303)


@bp.get("/account/sessions")
@login_required
def account_sessions():
    """The account's signed-in browsers (ASVS V3.3.4): when, from where, and this one marked."""
    rows = sessions.active(current_user, current_app.permanent_session_lifetime)
    return render_template("auth/sessions.html", rows=rows, current=g.get("login_session"),
                           browser_name=sessions.browser_name)


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    """退出其他设备: every other browser signed in to this account is signed out."""
    user = current_user._get_current_object()
    ended = sessions.end_others(user, g.login_session)
    audit.record("logout.others", user, region=user.region, target=f"用户 {user.username}",
                 after={"ended": ended})
    db.session.commit()
    flash(f"已退出其他{ended}个设备" if ended else "没有其他设备登录")
    return redirect(url_for("auth.account_sessions"), code=303)
