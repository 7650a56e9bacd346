"""三员分立 (SEPARATION_OF_DUTIES=1): the system, security and audit admins each hold one duty, the
city admin keeps the business, and the table of who does what lives in reporting/access.py."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from reporting import access
from reporting.extensions import db
from reporting.models import DUTY_ROLES, AuditEntry, User

from .conftest import make_user, two_counties_filed


@pytest.fixture
def separated(app):
    app.config["SEPARATION_OF_DUTIES"] = True
    return app


def test_the_cli_creates_the_three_roles(runner, jiangmen):
    for role, name in (("system_admin", "系统管理员"), ("security_admin", "安全管理员"), ("audit_admin", "审计管理员")):
        made = runner.invoke(args=["users", "create", f"jm_{role}", "--role", role, "--region", "4407",
                                   "--password", "Jiangmen-三员-2026"])
        assert made.exit_code == 0 and name in made.output
    roles = dict(db.session.execute(select(User.username, User.role)).all())
    assert roles == {"jm_system_admin": "system_admin", "jm_security_admin": "security_admin",
                     "jm_audit_admin": "audit_admin"}


def test_one_role_per_account_means_no_one_holds_two_duties(app):
    # one role column per user: holding two of the three would take two accounts
    assert User.__table__.c.role.type.length == 20 and not isinstance(User.role, (list, set))
    for separated in (False, True):
        table = access.CAPABILITIES[separated]
        held = [table[role] for role in DUTY_ROLES]
        assert all(len(duties) == 1 for duties in held) and len(set().union(*held)) == 3


def test_with_the_setting_on_the_city_admin_keeps_the_business_only(separated, client, auth, jiangmen, frozen_now):
    campaign = two_counties_filed(jiangmen, frozen_now)
    make_user("admin", "city_admin", "4407")
    viewer = make_user("viewer", "viewer", "4407")
    auth.login("admin")
    assert client.get("/dashboard/4407").status_code == 200
    assert client.get(f"/review/4407?period={campaign.periods[0].id}").status_code == 200
    assert client.get("/admin/holidays").status_code == 200  # the settings stay
    refused = client.get("/admin/audit")
    assert refused.status_code == 403 and "只有审计管理员可以查阅审计日志" in refused.get_data(as_text=True)
    made = client.post("/admin/users", data={"username": "kaiping", "role": "viewer", "region": "440783",
                                             "password": "Guanwei-2026"})
    assert made.status_code == 403 and "只有安全管理员可以管理用户" in made.get_data(as_text=True)
    assert client.post(f"/admin/users/{viewer.id}/password", data={"reset-password": "Guanwei-2026"}).status_code == 403
    # its page of a user shows the 催报 robots only
    page = client.get(f"/admin/users/{viewer.id}").get_data(as_text=True)
    assert "群机器人" in page and "重置密码" not in page
    masthead = client.get("/").get_data(as_text=True)
    assert "审计日志" not in masthead


def test_without_the_setting_the_city_admin_administers_as_before(client, auth, jiangmen):
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    assert client.get("/admin/audit").status_code == 200
    assert client.post("/admin/users", data={"username": "kaiping", "role": "viewer", "region": "440783",
                                             "password": "Guanwei-2026"}).status_code == 303


def test_the_security_admin_administers_accounts_and_reads_no_figures(separated, client, auth, jiangmen):
    make_user("security", "security_admin", "4407")
    viewer = make_user("viewer", "viewer", "4407")
    auth.login("security")
    assert client.post("/admin/users", data={"username": "kaiping", "role": "audit_admin", "region": "4407",
                                             "password": "Guanwei-2026"}).status_code == 303
    assert client.post(f"/admin/users/{viewer.id}/sessions/end").status_code == 303
    assert client.get("/dashboard/4407").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/holidays").status_code == 403
    home = client.get("/").get_data(as_text=True)
    assert "用户管理" in home and ">督导</a>" not in home
    assert [e.kind for e in db.session.scalars(select(AuditEntry).where(AuditEntry.username == "security")
                                                .order_by(AuditEntry.id))][-2:] == ["user.create", "user.sessions_end"]
    # it cannot give itself another role
    me = db.session.scalar(select(User).where(User.username == "security"))
    changed = client.post(f"/admin/users/{me.id}", data={"role": "audit_admin", "region": "4407", "active": "y"})
    assert changed.status_code == 422 and "不能停用自己或改变自己的角色" in changed.get_data(as_text=True)


def test_the_audit_admin_reads_the_log_and_nothing_else_and_is_watched(separated, client, auth, jiangmen,
                                                                       frozen_now):
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    make_user("auditor", "audit_admin", "4407")
    auth.login("auditor")
    assert "审计日志" in client.get("/admin/audit").get_data(as_text=True)
    for url in ("/dashboard/4407", "/admin/users", "/admin/holidays", "/regions/4407", "/circulars/"):
        assert client.get(url).status_code == 403, url
    reads = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "audit.read")).all()
    assert [(r.username, r.target) for r in reads] == [("auditor", "审计日志")]


def test_the_system_admin_keeps_the_settings(separated, client, auth, jiangmen):
    make_user("system", "system_admin", "4407")
    viewer = make_user("viewer", "viewer", "4407")
    auth.login("system")
    assert client.get("/admin/holidays").status_code == 200
    robot = client.post(f"/admin/users/{viewer.id}/webhooks",
                        data={"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"})
    assert robot.status_code == 303
    assert client.post(f"/admin/users/{viewer.id}/password", data={"reset-password": "Guanwei-2026"}).status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/dashboard/4407").status_code == 403
