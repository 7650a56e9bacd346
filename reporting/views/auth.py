"""Signing in and out, with per-account and per-address rate limits and a server-side session end."""
from __future__ import annotations

import secrets

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from forms.auth import LoginForm

from .. import audit, clock
from ..extensions import db, limiter, login_manager
from ..models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str):
    """A session names the user and their current nonce; after logout the nonce has moved on."""
    user_id, _, nonce = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not nonce or not secrets.compare_digest(nonce, user.session_nonce or ""):
        return None
    return user


@bp.before_app_request
def end_idle_sessions():
    """The idle timeout, checked on the server: a session unused for too long is signed out."""
    if not current_user.is_authenticated:
        return None
    now = int(clock.now().timestamp())
    seen = session.get("seen")
    limit = current_app.permanent_session_lifetime.total_seconds()
    if isinstance(seen, int) and now - seen > limit:
        logout_user()
        session.clear()
        flash("长时间未操作，已自动退出，请重新登录")
        if request.path.startswith("/api/"):
            return None
        return redirect(url_for("auth.login", next=request.path), code=303)
    session["seen"] = now
    return None


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
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()  # a fresh session at login: nothing from before carries over
            user.session_nonce = secrets.token_hex(16)
            audit.record("login.success", user, region=user.region, target=f"用户 {user.username}")
            db.session.commit()
            login_user(user)
            session.permanent = True  # PERMANENT_SESSION_LIFETIME is the idle timeout
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("home.index")  # only local paths, never another site
            return redirect(target, code=303)
        shown = "".join(c if ord(c) >= 32 else "?" for c in name)
        audit.record("login.failure", user, username=shown[:50], target=f"用户 {shown[:40]}")
        db.session.commit()
        form.password.errors.append("用户名或密码错误")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    user = current_user._get_current_object()
    user.session_nonce = secrets.token_hex(16)  # every copy of the old cookie stops working
    audit.record("logout", user, region=user.region, target=f"用户 {user.username}")
    db.session.commit()
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"), code=303)
