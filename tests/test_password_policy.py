"""The password rule of 等保2.0 (8 characters, 3 of 4 classes, not the username) on every path, a
first login after an admin set the password, and PASSWORD_MAX_AGE_DAYS."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from reporting.accounts.accounts import password_problem
from reporting.extensions import db
from reporting.models import User

from .conftest import make_user

GOOD = "Guanwei-2026"


def test_the_rule(app):
    assert password_problem("Abc-123") == "密码至少8个字符"
    assert "至少3类" in password_problem("abcdefgh-")  # lower case and a symbol: two classes
    assert "至少3类" in password_problem("填报员填报员-2026")  # symbols (Chinese counts as one) and digits
    assert password_problem("Kaiping2026") is None  # upper, lower, digits
    assert password_problem("kaiping-2026") is None  # lower, symbol, digits
    assert password_problem("Kaiping-2026", "kaiping") == "密码不能包含用户名"


def test_the_command_line_refuses_a_weak_password(runner, jiangmen):
    weak = runner.invoke(args=["users", "create", "kaiping", "--role", "county_filer", "--region", "440783",
                               "--password", "kaiping2026"])
    assert weak.exit_code != 0 and "密码" in weak.output
    assert db.session.scalar(select(User).where(User.username == "kaiping")) is None
    made = runner.invoke(args=["users", "create", "kaiping", "--role", "county_filer", "--region", "440783",
                               "--password", "Guanwei-2026"])
    assert made.exit_code == 0
    user = db.session.scalar(select(User).where(User.username == "kaiping"))
    assert user.check_password("Guanwei-2026") and user.must_change_password is False


def test_a_generated_password_meets_the_rule_and_must_be_changed(runner, jiangmen):
    made = runner.invoke(args=["users", "create", "enping", "--role", "viewer", "--region", "440785"])
    initial = made.output.strip().splitlines()[-1].split("：")[1]
    assert password_problem(initial, "enping") is None
    assert db.session.scalar(select(User).where(User.username == "enping")).must_change_password


def test_an_account_an_admin_made_changes_its_password_first(app, client, auth, runner, jiangmen):
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    weak = client.post("/admin/users", data={"username": "kaiping", "role": "county_filer", "region": "440783",
                                             "password": "Kaiping-2026"})
    assert weak.status_code == 422 and "密码不能包含用户名" in weak.get_data(as_text=True)
    made = client.post("/admin/users", data={"username": "kaiping", "role": "county_filer", "region": "440783",
                                             "password": GOOD})
    assert made.status_code == 303
    auth.logout()
    assert auth.login("kaiping", GOOD).status_code == 303
    # every page leads to 修改密码 until it is done; htmx is told to go there too
    for url in ("/", "/dashboard/440783", "/account/tokens"):
        answer = client.get(url)
        assert answer.status_code == 303 and answer.location.endswith("/account/password")
    fragment = client.get("/dashboard/440783", headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and fragment.headers["HX-Redirect"].endswith("/account/password")
    page = client.get("/account/password", follow_redirects=True).get_data(as_text=True)
    assert "修改密码" in page
    assert "您的密码由管理员设置，请先修改密码" in client.get("/", follow_redirects=True).get_data(as_text=True)
    # the bearer-token API is not concerned: a token is given to a program on purpose
    token = runner.invoke(args=["users", "token", "kaiping"]).stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/regions/440783", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    same = client.post("/account/password", data={"current": GOOD, "password": "kaiping", "confirm": "kaiping"})
    assert same.status_code == 422
    changed = client.post("/account/password", data={"current": GOOD, "password": "Guanwei-医保-2026",
                                                     "confirm": "Guanwei-医保-2026"})
    assert changed.status_code == 303
    assert auth.login("kaiping", "Guanwei-医保-2026").status_code == 303
    assert client.get("/").status_code == 200


def test_a_reset_by_an_admin_must_be_changed_too(app, client, auth, jiangmen):
    user = make_user("xinhui", "county_filer", "440705")
    make_user("security", "security_admin", "4407")
    auth.login("security")
    weak = client.post(f"/admin/users/{user.id}/password", data={"reset-password": "xinhui-2026"},
                       follow_redirects=True)
    assert "密码不能包含用户名" in weak.get_data(as_text=True)
    client.post(f"/admin/users/{user.id}/password", data={"reset-password": GOOD})
    auth.logout()
    auth.login("xinhui", GOOD)
    assert client.get("/").location.endswith("/account/password")


def test_a_password_older_than_the_maximum_age_must_be_changed(app, client, auth, jiangmen, frozen_now):
    frozen_now(dt.datetime(2026, 8, 1, 9, 0))
    make_user("xinhui", "county_filer", "440705")
    frozen_now(dt.datetime(2026, 10, 30, 9, 0))  # 90 days later
    auth.login("xinhui")
    assert client.get("/").status_code == 200  # off by default
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    answer = client.get("/")
    assert answer.status_code == 303 and answer.location.endswith("/account/password")
    assert "已使用超过90天" in client.get("/account/password").get_data(as_text=True)
    frozen_now(dt.datetime(2026, 10, 30, 9, 5))
    client.post("/account/password", data={"current": "correct-horse-battery", "password": GOOD, "confirm": GOOD})
    auth.login("xinhui", GOOD)
    assert client.get("/").status_code == 200
