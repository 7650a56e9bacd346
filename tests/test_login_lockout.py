"""Five wrong passwords within 15 minutes lock an account for 15 minutes, on every instance, until
a security admin (the city admin without 三员分立) unlocks it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app import create_app
from reporting.extensions import db
from reporting.models import AuditEntry, User

from .conftest import make_user

LOCKED = "该账号因连续5次密码错误已被锁定"


def attempt(client, password: str, username: str = "xinhui") -> str:
    return client.post("/login", data={"username": username, "password": password}).get_data(as_text=True)


def kinds() -> list[str]:
    return db.session.scalars(select(AuditEntry.kind).order_by(AuditEntry.id)).all()


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, jiangmen, frozen_now):
    start = frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    for n in range(4):
        frozen_now(start + dt.timedelta(minutes=n))
        assert "用户名或密码错误" in attempt(client, "wrong-Password-1")
    frozen_now(start + dt.timedelta(minutes=4))
    fifth = attempt(client, "wrong-Password-1")
    assert LOCKED in fifth and "09:19后再试" in fifth and "联系安全管理员解锁" in fifth
    # the right password does not open it while it lasts, and is not even tried
    frozen_now(start + dt.timedelta(minutes=18))
    assert LOCKED in attempt(client, "correct-horse-battery")
    assert client.get("/").status_code == 302
    frozen_now(start + dt.timedelta(minutes=19, seconds=1))
    assert client.post("/login", data={"username": "xinhui", "password": "correct-horse-battery"}).status_code == 303
    assert client.get("/").status_code == 200
    assert kinds().count("login.locked") == 1


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(client, jiangmen, frozen_now):
    start = frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    for n in range(4):
        attempt(client, "wrong-Password-1")
    frozen_now(start + dt.timedelta(minutes=16))
    assert LOCKED not in attempt(client, "wrong-Password-1")
    assert client.post("/login", data={"username": "xinhui", "password": "correct-horse-battery"}).status_code == 303


def test_a_success_starts_the_count_again(client, auth, jiangmen, frozen_now):
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    for n in range(4):
        attempt(client, "wrong-Password-1")
    assert auth.login("xinhui").status_code == 303
    auth.logout()
    for n in range(4):
        assert LOCKED not in attempt(client, "wrong-Password-1")


def test_the_lock_holds_on_every_instance(app, client, jiangmen, frozen_now):
    """Counted in the database: another app server sharing it sees the lock at once."""
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    other = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING")},
                        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "SESSION_COOKIE_SECURE": False})
    try:
        elsewhere = other.test_client()
        for n in range(3):
            attempt(client, "wrong-Password-1")
        for n in range(2):
            attempt(elsewhere, "wrong-Password-1")
        assert LOCKED in attempt(elsewhere, "correct-horse-battery")
        assert LOCKED in attempt(client, "correct-horse-battery")
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def lock(client) -> User:
    for n in range(5):
        attempt(client, "wrong-Password-1")
    return db.session.scalar(select(User).where(User.username == "xinhui"))


def test_a_security_admin_unlocks_under_separation_of_duties(app, client, auth, jiangmen, frozen_now):
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    app.config["SEPARATION_OF_DUTIES"] = True
    make_user("xinhui", "county_filer", "440705")
    make_user("admin", "city_admin", "4407")
    make_user("security", "security_admin", "4407")
    user = lock(client)
    auth.login("admin")  # the city admin no longer administers accounts
    assert client.post(f"/admin/users/{user.id}/unlock").status_code == 403
    auth.logout()
    auth.login("security")
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "账号已锁定" in page and "解锁" in page
    assert "已锁定" in client.get("/admin/users").get_data(as_text=True)
    assert client.post(f"/admin/users/{user.id}/unlock").status_code == 303
    auth.logout()
    assert auth.login("xinhui").status_code == 303
    unlock = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "user.unlock"))
    assert unlock.username == "security" and unlock.target == "用户 xinhui"


def test_the_city_admin_unlocks_without_separation_and_the_command_line_too(app, client, auth, runner, jiangmen,
                                                                            frozen_now):
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    make_user("admin", "city_admin", "4407")
    user = lock(client)
    auth.login("admin")
    assert client.post(f"/admin/users/{user.id}/unlock").status_code == 303
    auth.logout()
    lock(client)
    assert LOCKED in attempt(client, "correct-horse-battery")
    result = runner.invoke(args=["users", "unlock", "xinhui"])
    assert result.exit_code == 0 and "已解锁" in result.output
    assert auth.login("xinhui").status_code == 303
    assert kinds().count("user.unlock") == 2


def test_an_unknown_name_locks_nothing_and_says_nothing_new(client, jiangmen):
    for n in range(6):
        answer = attempt(client, "wrong-Password-1", username="nobody")
    assert "用户名或密码错误" in answer and LOCKED not in answer
