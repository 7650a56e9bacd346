"""Signing in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user
from sqlalchemy import select

from forms.auth import LoginForm

from ..extensions import db, login_manager
from ..models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()  # a fresh session at login
            login_user(user)
            target = request.args.get("next", "")
            # only local paths, never another site
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("home.index")
            return redirect(target, code=303)
        form.password.errors.append("用户名或密码错误")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"), code=303)
