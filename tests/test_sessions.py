"""Login sessions: one per browser, listed on the account page; a lapsed one answers htmx with a 401."""
import datetime as dt

import pytest
from sqlalchemy import select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.models import LoginSession, Region, Report
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import make_user

HX = {"HX-Request": "true"}


def sign_in(app, username="xinhui", password="correct-horse-battery", agent="Mozilla/5.0 Chrome/120.0"):
    """Another browser: a client of its own, signed in."""
    browser = app.test_client()
    answer = browser.post("/login", data={"username": username, "password": password},
                          headers={"User-Agent": agent})
    assert answer.status_code == 303
    return browser


@pytest.fixture
def xinhui(client, jiangmen):  # `client` starts each request without the last one's user
    return make_user("xinhui", "county_filer", "440705")


def test_a_login_does_not_sign_out_the_other_staff_of_the_account(app, xinhui):
    office, clerk = sign_in(app), sign_in(app)
    assert office.get("/").status_code == 200 and clerk.get("/").status_code == 200
    clerk.post("/logout")  # one person leaves: only that browser is signed out
    assert clerk.get("/").status_code == 302
    assert office.get("/").status_code == 200


def test_the_account_page_lists_sessions_and_signs_out_the_others(app, xinhui):
    office = sign_in(app, agent="Mozilla/5.0 Firefox/115.0")
    clerk = sign_in(app, agent="Mozilla/5.0 Chrome/120.0")
    page = clerk.get("/account/sessions").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 2 and "Firefox" in rows and "Chrome" in rows and "127.0.0.1" in rows
    assert rows.count("本机") == 1 and "退出其他设备" in page
    answer = clerk.post("/account/sessions/end-others")
    assert answer.status_code == 303
    assert "已退出其他1个设备" in clerk.get(answer.headers["Location"]).get_data(as_text=True)
    assert office.get("/").status_code == 302 and clerk.get("/").status_code == 200


def test_a_password_change_or_a_disable_ends_every_session(app, client, auth, xinhui, jiangmen):
    office, clerk = sign_in(app), sign_in(app)
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    reset = client.post(f"/admin/users/{xinhui.id}/password", data={"reset-password": "Huang-医保-重置-2026"})
    assert reset.status_code in (302, 303)
    assert office.get("/").status_code == 302 and clerk.get("/").status_code == 302
    again = sign_in(app, password="Huang-医保-重置-2026")
    xinhui = db.session.merge(xinhui)
    xinhui.active = False
    from reporting.accounts.accounts import update_user
    from reporting.models import User
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    update_user(admin, xinhui, role=xinhui.role, region=xinhui.region, full_name="", phone="", active=False)
    db.session.commit()
    assert again.get("/").status_code == 302
    assert db.session.scalar(select(LoginSession).where(LoginSession.ended_at.is_(None))) is not None  # admin's


@pytest.fixture
def grid_url(jiangmen, xinhui, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    unit = db.session.scalars(descendants_at(region_by_code("440705"), "village").order_by(Region.code)).first()
    return f"/filing/{campaign.periods[0].id}/440705/units/{unit.code}", unit


def stored(unit):
    db.session.expire_all()
    report = db.session.scalar(select(Report).where(Report.region_id == unit.id))
    return report.values(report.period.campaign.indicators)["enrolled"] if report else None


def test_a_row_saved_after_the_login_lapsed_gets_a_401_the_page_can_show(app, grid_url, frozen_now):
    url, unit = grid_url
    office, clerk = sign_in(app), sign_in(app)
    assert office.post(url, data={"enrolled": "1500"}, headers=HX).status_code == 200
    assert stored(unit) == 1500
    # signed out from the other browser: the next row save is refused with a 401, not a redirect
    clerk.post("/account/sessions/end-others")
    refused = office.post(url, data={"enrolled": "1600"}, headers=HX)
    assert refused.status_code == 401 and "登录已失效" in refused.get_data(as_text=True)
    assert stored(unit) == 1500
    # the idle timeout too
    frozen_now(dt.datetime(2022, 10, 5, 11, 0))
    idle = clerk.post(url, data={"enrolled": "1700"}, headers=HX)
    assert idle.status_code == 401 and stored(unit) == 1500
    # a whole page still goes to the login, and comes back afterwards
    page = office.get("/filing/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/login?next=/filing/")


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/\\evil.example",
                                    "/%0a/evil.example", "https://evil.example/", "/%5C/evil.example"])
def test_login_follows_only_paths_of_this_site(client, xinhui, target):
    answer = client.post(f"/login?next={target}", data={"username": "xinhui",
                                                      "password": "correct-horse-battery"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_login_follows_a_path_of_this_site(client, xinhui):
    answer = client.post("/login?next=/filing/%3Fperiod%3D1", data={"username": "xinhui",
                                                                   "password": "correct-horse-battery"})
    assert answer.headers["Location"] == "/filing/?period=1"


def test_with_csrf_on_every_row_after_the_lapse_hears_401(app, client, grid_url, frozen_now):
    """In production CSRF is on: the first refused row must not leave the next ones a 400."""
    import re

    from app import create_app
    url, unit = grid_url
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING")}
    guarded = create_app({**config, "WTF_CSRF_ENABLED": True, "SESSION_COOKIE_SECURE": False,
                          "RATELIMIT_ENABLED": False})
    try:
        browser = guarded.test_client()
        login_page = browser.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        assert browser.post("/login", data={"username": "xinhui", "password": "correct-horse-battery",
                                            "csrf_token": token}).status_code == 303
        page = browser.get(url.rsplit("/units/", 1)[0]).get_data(as_text=True)
        headers = {**HX, "X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)}
        assert browser.post(url, data={"enrolled": "1500"}, headers=headers).status_code == 200
        frozen_now(dt.datetime(2022, 10, 5, 11, 0))
        answers = [browser.post(url, data={"enrolled": str(n)}, headers=headers).status_code for n in (1600, 1700)]
        assert answers == [401, 401] and stored(unit) == 1500
    finally:
        with guarded.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_signed_in_page_reads_its_session_user_and_region_in_one_statement(app, xinhui):
    """Every page names the user's region: it comes with the session and the user, not after them."""
    from sqlalchemy import event
    office = sign_in(app)
    office.get("/login")  # the session was noted as seen: the next request writes nothing
    db.session.remove()
    seen = []
    listener = lambda *args: seen.append(" ".join(args[2].split()))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page = office.get("/login").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert "新会区" in page
    assert len(seen) == 1 and "FROM login_session" in seen[0], "\n".join(seen)
