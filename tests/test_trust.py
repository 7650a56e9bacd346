"""Sessions, rate limits, headers, account administration and the audit log."""
import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from app import create_app
from reporting.accounts.accounts import password_problem
from reporting.extensions import db
from reporting.models import ApiToken, AuditEntry, User

from .conftest import PG_URL, make_user


def entries(kind=None):
    query = select(AuditEntry).order_by(AuditEntry.id)
    if kind:
        query = query.where(AuditEntry.kind == kind)
    return db.session.scalars(query).all()


def test_security_headers_and_strict_csp(client, app):
    answer = client.get("/login")
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<script>" not in answer.get_data(as_text=True) and " style=" not in answer.get_data(as_text=True)


def test_session_cookie_flags(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(minutes=30)


def test_login_and_failure_are_audited(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui", "wrong-password-here")
    auth.login("xinhui")
    failure, success = entries("login.failure"), entries("login.success")
    assert failure[0].username == "xinhui" and failure[0].ip == "127.0.0.1"
    assert success[0].user.username == "xinhui" and success[0].region.code == "440705"


def test_logout_ends_the_session_even_for_a_copied_cookie(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    stolen = client.get_cookie("session").value
    assert client.get("/").status_code == 200
    auth.logout()
    client.set_cookie("session", stolen)
    assert client.get("/").status_code == 302  # the old cookie names a nonce that is gone


def test_a_new_login_starts_a_new_session(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    first = client.get_cookie("session").value
    auth.login("xinhui")
    assert client.get_cookie("session").value != first
    client.delete_cookie("session")
    client.set_cookie("session", first)
    assert client.get("/").status_code == 302  # the earlier session no longer works


def test_idle_timeout(client, auth, jiangmen, frozen_now):
    make_user("xinhui", "county_filer", "440705")
    frozen_now(dt.datetime(2022, 10, 5, 9, 0))
    auth.login("xinhui")
    assert client.get("/").status_code == 200
    frozen_now(dt.datetime(2022, 10, 5, 9, 29))
    assert client.get("/").status_code == 200  # activity renews the session
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    answer = client.get("/")
    assert answer.status_code == 303 and "/login" in answer.headers["Location"]
    assert client.get("/").status_code == 302


def test_the_session_cookie_is_sent_again_at_most_once_a_minute(client, auth, jiangmen, frozen_now):
    """Use is noted once a minute, so the idle timeout still runs from the last minute of use, and the
    cookie (its expiry with it) is renewed then; the requests between carry no Set-Cookie."""
    make_user("xinhui", "county_filer", "440705")
    frozen_now(dt.datetime(2022, 10, 5, 9, 0))
    auth.login("xinhui")
    client.get("/")
    frozen_now(dt.datetime(2022, 10, 5, 9, 0, 40))
    assert "Set-Cookie" not in client.get("/").headers
    frozen_now(dt.datetime(2022, 10, 5, 9, 1, 5))
    renewed = client.get("/")
    assert "session=" in renewed.headers.get("Set-Cookie", "")
    frozen_now(dt.datetime(2022, 10, 5, 9, 30, 30))  # 29½ minutes after the last noted use
    assert client.get("/").status_code == 200


def limited_app(**config):
    """An app on the test's database with rate limiting on (the test config turns it off)."""
    config = {"TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
              **config}
    if PG_URL:
        config["DATABASE_URL"] = PG_URL
    else:
        config["SQLALCHEMY_DATABASE_URI"] = db.engine.url.render_as_string(hide_password=False)
    return create_app(config)


def test_login_rate_limit_per_account(tmp_path, jiangmen):
    app = limited_app()
    client = app.test_client()
    name = f"nobody-{uuid.uuid4().hex[:8]}"  # the limit store may be a shared Redis: a name of its own
    answers = [client.post("/login", data={"username": name, "password": "x" * 12}).status_code
               for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5] == 429
    page = client.post("/login", data={"username": name, "password": "x"}).get_data(as_text=True)
    assert "登录失败次数过多" in page
    with app.app_context():
        db.engine.dispose()


def test_behind_a_trusted_proxy_logins_are_limited_per_client_address(tmp_path, jiangmen):
    app = limited_app(TRUSTED_PROXIES=1)
    client = app.test_client()
    # addresses of their own: the limit store may be a shared Redis
    office, other = (f"10.{n}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}" for n in (1, 2))

    def attempt(address: str) -> int:
        name = f"nobody-{uuid.uuid4().hex[:8]}"  # a new account each time: only the address limit counts
        return client.post("/login", data={"username": name, "password": "x" * 12},
                           headers={"X-Forwarded-For": address}).status_code

    answers = [attempt(office) for _ in range(21)]
    assert answers[:20] == [200] * 20 and answers[20] == 429
    assert attempt(other) == 200  # another county's office behind the same proxy is not locked out
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("password, ok", [
    ("short", False), ("password2024!", False), ("123456789012", False), ("aaaaaaaaaaaa", False),
    ("xinhui-secret-2026", False), ("Mashangban-参保缴费-2026年", True), ("Correct-horse-battery", True),
    # 等保: three of 大写字母, 小写字母, 数字 and 符号 (a Chinese character counts as a 符号)
    ("马上办-参保缴费-2026年", False), ("correct-horse-battery", False), ("Abcdef12", True), ("Abcde12", False),
])
def test_password_policy(password, ok):
    assert (password_problem(password, "xinhui") is None) == ok


def test_admin_manages_users_only_in_the_subtree(client, auth, jiangmen, anhui):
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    made = client.post("/admin/users", data={"username": "kaiping", "full_name": "关伟文", "phone": "13800000001",
                                             "role": "county_filer", "region": "440783",
                                             "password": "Guanwei-填报员-2026"})
    assert made.status_code == 303
    user = db.session.scalar(select(User).where(User.username == "kaiping"))
    assert user.region.code == "440783" and user.check_password("Guanwei-填报员-2026")
    outside = client.post("/admin/users", data={"username": "suzhou", "role": "viewer", "region": "3413",
                                                "password": "suzhou-viewer-2026"})
    assert outside.status_code == 422 and "范围内" in outside.get_data(as_text=True)
    weak = client.post("/admin/users", data={"username": "weak", "role": "viewer", "region": "4407",
                                             "password": "123456"})
    assert weak.status_code == 422 and "至少8个字符" in weak.get_data(as_text=True)
    stranger = make_user("stranger", "viewer", "3413")
    assert client.get(f"/admin/users/{stranger.id}").status_code == 403
    disabled = client.post(f"/admin/users/{user.id}", data={"role": "county_filer", "region": "440783",
                                                            "full_name": "关伟文", "phone": "13800000001"})
    assert disabled.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    kinds = [e.kind for e in entries()]
    assert "user.create" in kinds and "user.update" in kinds
    update = entries("user.update")[0]
    assert update.before["active"] is True and update.after["active"] is False


def test_a_nul_byte_in_the_username_is_a_failed_login(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    answer = auth.login("xin\x00hui")
    assert answer.status_code == 200 and "用户名或密码错误" in answer.get_data(as_text=True)
    assert entries("login.failure")[0].username == "xin?hui"


def test_disabled_user_cannot_sign_in(client, auth, jiangmen):
    user = make_user("xinhui", "county_filer", "440705")
    user.active = False
    db.session.commit()
    assert "用户名或密码错误" in auth.login("xinhui").get_data(as_text=True)


def test_own_password_change_ends_other_sessions(client, auth, app, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    other = app.test_client()
    other.post("/login", data={"username": "xinhui", "password": "correct-horse-battery"})
    auth.login("xinhui")
    refused = client.post("/account/password", data={"current": "correct-horse-battery",
                                                     "password": "password", "confirm": "password"})
    assert refused.status_code == 422
    changed = client.post("/account/password", data={"current": "correct-horse-battery",
                                                      "password": "Huang-医保-填报-2026", "confirm": "Huang-医保-填报-2026"})
    assert changed.status_code == 303
    assert other.get("/").status_code == 302
    assert entries("user.password")


def test_tokens_are_listed_hashed_and_revocable(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    page = client.post("/account/tokens", data={"token-label": "信息系统推送"}).get_data(as_text=True)
    token = page.split('<code class="token">')[1].split("</code>")[0]
    stored = db.session.scalar(select(ApiToken))
    assert stored.digest == ApiToken.hash(token) and stored.label == "信息系统推送"
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/regions/440705", headers=headers).status_code == 200
    client.post(f"/account/tokens/{stored.id}/revoke")
    assert client.get("/api/v1/regions/440705", headers=headers).status_code == 401
    assert [e.kind for e in entries() if e.kind.startswith("token")] == ["token.create", "token.revoke"]


def test_every_report_write_is_audited_with_before_and_after(client, runner, jiangmen, frozen_now):
    from reporting.campaigns.campaigns import create_campaign
    from reporting.regions.hierarchy import descendants_at, region_by_code
    frozen_now(dt.datetime(2022, 10, 5, 9, 0))
    campaign, _ = create_campaign(name="江门", root=jiangmen, start=dt.date(2022, 9, 1), end=dt.date(2022, 12, 31),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    village = db.session.scalars(descendants_at(region_by_code("440705"), "village")).first()
    url = f"/api/v1/reports/{village.code}/{campaign.periods[0].id}"
    headers = {"Authorization": f"Bearer {token}"}
    client.put(url, json={"values": {"enrolled": 10}}, headers=headers)
    client.put(url, json={"values": {"enrolled": 12}, "revision": 1}, headers=headers)
    saves = entries("report.save")
    assert [(e.before or {}).get("enrolled") for e in saves] == [None, 10]
    assert [e.after["enrolled"] for e in saves] == [10, 12]
    assert saves[1].user.username == "xinhui" and saves[1].region_id == village.id
    assert entries("campaign.create") and entries("token.create")


def test_audit_log_page_filters(client, auth, jiangmen):
    make_user("admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui", "wrong-password-1")
    auth.login("admin")
    rows = client.get("/admin/audit?kind=login.failure").get_data(as_text=True).split("<tbody>")[1]
    assert "登录失败" in rows and "xinhui" in rows and "登录成功" not in rows
    assert client.get("/admin/audit?region=3413").status_code in (403, 404)
    auth.logout()
    auth.login("xinhui")
    assert client.get("/admin/audit").status_code == 403


def test_audit_counts_grow_only(jiangmen):
    from reporting import audit
    audit.record("login.failure", None, username="x")
    db.session.commit()
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 1
