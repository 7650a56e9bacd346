"""Finding a unit from the top bar: by name or code, inside the user's scope, a dropdown or a page."""
import datetime as dt
import re

import pytest

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user

HX = {"HX-Request": "true"}


def links(html):
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', html)


@pytest.fixture
def anhui_users(anhui):
    make_user("lingbi", "viewer", "341323")
    make_user("yongqiao", "viewer", "341302")
    make_user("suzhou", "viewer", "3413")
    return anhui


def test_a_name_or_a_code_finds_the_village_in_scope(client, auth, anhui_users):
    auth.login("lingbi")
    by_name = client.get("/search/?q=湖光", headers=HX)
    html = by_name.get_data(as_text=True)
    assert by_name.status_code == 200 and "<html" not in html and "Vary" in by_name.headers
    assert links(html) == [("/dashboard/341323117210", "湖光村委会")]
    assert "朱集镇 · 341323117210" in html  # the township tells apart villages of the same name
    by_code = client.get("/search/?q=341323117", headers=HX).get_data(as_text=True)
    found = links(by_code)
    assert found[0] == ("/dashboard/341323117", "朱集镇")  # the township first, then its villages by code
    assert len(found) == 14 and all(href.startswith("/dashboard/341323117") for href, _ in found)  # its 13 villages
    auth.logout()
    auth.login("suzhou")  # 宿州市: 埇桥区 and 灵璧县 hold more than 20 镇
    assert len(links(client.get("/search/?q=镇", headers=HX).get_data(as_text=True))) == 20


def test_units_outside_the_scope_are_never_listed(client, auth, anhui_users):
    auth.login("yongqiao")  # 埇桥区: 湖光村委会 lies in 灵璧县
    html = client.get("/search/?q=湖光", headers=HX).get_data(as_text=True)
    assert links(html) == [] and "没有找到“湖光”" in html
    assert links(client.get("/search/?q=341323", headers=HX).get_data(as_text=True)) == []


def test_the_search_page_works_without_javascript(client, auth, anhui_users):
    auth.login("lingbi")
    page = client.get("/search/?q=村")
    html = page.get_data(as_text=True)
    assert "<html" in html and 'value="村"' in html and len(links(html)) > 1
    # the one match goes straight to its page
    assert client.get("/search/?q=湖光").headers["Location"].endswith("/dashboard/341323117210")
    assert links(client.get("/search/?q=%25", headers=HX).get_data(as_text=True)) == []  # no wildcard
    assert client.get("/search/?q=", headers=HX).get_data(as_text=True).count("<li") == 0


def test_a_filer_is_led_to_the_village_row_of_the_grid(client, auth, jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    make_user("enping", "county_filer", "440785")
    make_user("admin", "city_admin", "4407")
    period = campaign.periods[0]
    auth.login("enping")
    html = client.get("/search/?q=圩镇社区", headers=HX).get_data(as_text=True)
    found = links(html)
    assert len(found) == 7 and all(name == "圩镇社区居民委员会" for _, name in found)
    assert found[0][0] == f"/filing/{period.id}/440785#u-440785101001"
    assert f"{region_by_code('440785101').name} · 440785101001" in html
    township = client.get("/search/?q=440785101", headers=HX).get_data(as_text=True)
    assert links(township)[0] == ("/dashboard/440785101", region_by_code("440785101").name)
    auth.logout()
    auth.login("admin")  # the city files a county's grid on its behalf
    found = links(client.get("/search/?q=440785101001", headers=HX).get_data(as_text=True))
    assert found == [(f"/filing/{period.id}/440785#u-440785101001", "圩镇社区居民委员会")]


def test_a_search_with_one_match_goes_straight_there(client, auth, jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    make_user("enping", "county_filer", "440785")
    auth.login("enping")
    answer = client.get("/search/?q=440785101001")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/filing/{campaign.periods[0].id}/440785#u-440785101001")
    # several matches stay a list to choose from
    assert client.get("/search/?q=圩镇社区").status_code == 200
