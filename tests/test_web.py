"""Signing in, the home page and the region browser, as full pages and as htmx fragments."""
import datetime as dt

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db

from .conftest import make_user


def test_pages_need_a_login(client, jiangmen):
    for url in ("/", "/regions/4407"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_login_page_is_chinese(client, app):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "用户名" in page and "密码" in page


def test_wrong_password_is_refused(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    page = auth.login("xinhui", "wrong-password").get_data(as_text=True)
    assert "用户名或密码错误" in page
    assert client.get("/").status_code == 302


def test_login_and_logout(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    answer = auth.login("xinhui")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    assert "新会区" in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302


def test_login_never_redirects_off_site(client, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    answer = client.post("/login?next=//evil.example/", data={"username": "xinhui",
                                                              "password": "correct-horse-battery"})
    assert answer.headers["Location"] == "/"


def test_home_shows_current_period_and_countdown(client, auth, jiangmen, frozen_now):
    create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1), end=dt.date(2022, 12, 31),
                    extend_to=dt.date(2023, 2, 28), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    frozen_now(dt.datetime(2022, 10, 3, 9, 0))
    page = client.get("/").get_data(as_text=True)
    assert "江门市2023年度" in page
    assert "第1期（截至9月30日）" in page and "2022年10月8日" in page
    assert "10月1日节假日顺延" in page
    assert "还有 5 天" in page
    assert "0 / " in page  # none of the county's villages has reported


def test_region_browser_full_page_and_fragment(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    page = client.get("/regions/440705")
    text = page.get_data(as_text=True)
    assert "<html" in text and "新会区" in text and "会城街道" in text
    assert "HX-Request" in page.headers["Vary"]
    fragment = client.get("/regions/440705", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "会城街道" in fragment


def test_region_browser_breadcrumb_stops_at_the_users_region(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    township = client.get("/regions/440705001").get_data(as_text=True)
    assert 'href="/regions/440705"' in township
    assert 'href="/regions/4407"' not in township


def test_region_browser_refuses_other_counties(client, auth, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    answer = client.get("/regions/440703")
    assert answer.status_code == 403 and "蓬江区" not in answer.get_data(as_text=True).split("无权")[0]
    assert client.get("/regions/440703", headers={"HX-Request": "true"}).status_code == 403
