"""HTTP caching of the dashboards, the charts, the 排名表 and the progress API: an ETag made of the
region's version, the day, the query, the rendering and the caller; a copy still current is confirmed
with a 304 after one read of the version, and a write under the region gives a new tag."""
import datetime as dt

import pytest
from sqlalchemy import event

from reporting.extensions import db

from .conftest import FILER, VALUES, make_user, two_counties_filed, villages

HX = {"HX-Request": "true"}


@pytest.fixture
def filed(jiangmen, frozen_now, runner):
    """10月5日 of 江门市's campaign: 新会区 and 蓬江区 filed period 1, the others nothing."""
    campaign = two_counties_filed(jiangmen, frozen_now)
    make_user("admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", "440705")
    make_user("taishan", "county_filer", "440781")
    return campaign


def token(runner, username):
    return runner.invoke(args=["users", "token", username]).stdout.strip().splitlines()[-1]


def again(client, url, answer, headers=None):
    """The same request, as a browser holding `answer` asks it again."""
    return client.get(url, headers={**(headers or {}), "If-None-Match": answer.headers["ETag"]})


@pytest.mark.parametrize("url, headers", [
    ("/dashboard/4407", {}), ("/dashboard/4407", HX), ("/dashboard/4407/charts", HX),
    ("/dashboard/4407/charts", {}), ("/dashboard/4407/ranking.xlsx", {})])
def test_an_unchanged_answer_is_confirmed_with_a_304_and_no_body(client, auth, filed, url, headers):
    auth.login("admin")
    first = client.get(url, headers=headers)
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    second = again(client, url, first, headers)
    assert second.status_code == 304 and second.data == b""
    assert second.headers["ETag"] == first.headers["ETag"]
    assert "HX-Request" in second.headers["Vary"]


def test_the_page_and_its_htmx_fragment_never_share_a_tag(client, auth, filed):
    auth.login("admin")
    page = client.get("/dashboard/4407")
    fragment = client.get("/dashboard/4407", headers=HX)
    assert page.headers["ETag"] != fragment.headers["ETag"]
    # a browser holding the fragment never gets a 304 for the whole page (it would show a bare table)
    assert client.get("/dashboard/4407", headers={"If-None-Match": fragment.headers["ETag"]}).status_code == 200
    # nor a ranking of another measure for the one it holds
    other = client.get("/dashboard/4407?measure=rate", headers={**HX, "If-None-Match": fragment.headers["ETag"]})
    assert other.status_code == 200 and other.headers["ETag"] != fragment.headers["ETag"]


def test_the_304_reads_only_the_session_and_the_version(client, auth, filed):
    auth.login("admin")
    url = f"/dashboard/4407?period={filed.periods[0].id}"
    first = client.get(url, headers=HX)
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert again(client, url, first, HX).status_code == 304
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(seen) == 2, seen
    assert "login_session" in seen[0]  # who asks (Flask-Login's session)
    assert "progress_version" in seen[1]  # the version, with the region it labels
    assert not any(table in " ".join(seen) for table in ("report", "tally", "period"))


def test_a_submission_under_the_region_gives_a_200_with_a_new_tag(client, auth, filed, runner):
    auth.login("admin")
    period = filed.periods[0]
    urls = ["/dashboard/4407", "/dashboard/440781", "/dashboard/440705"]
    before = {url: client.get(url) for url in urls}
    village = villages("440781")[0]
    put = client.put(f"/api/v1/reports/{village}/{period.id}", json={"values": VALUES, "filer": FILER, "submit": True},
                     headers={"Authorization": f"Bearer {token(runner, 'taishan')}"})
    assert put.status_code == 200, put.get_json()
    for url in ("/dashboard/4407", "/dashboard/440781"):
        after = again(client, url, before[url])
        assert after.status_code == 200 and after.headers["ETag"] != before[url].headers["ETag"]
    assert "已报 1/" in again(client, "/dashboard/440781", before["/dashboard/440781"]).get_data(as_text=True)
    # 新会区 lies in another branch: nothing it shows changed, and its copy stays good
    assert again(client, "/dashboard/440705", before["/dashboard/440705"]).status_code == 304


def test_a_reminder_or_a_return_changes_the_board_and_its_tag(client, auth, filed, runner):
    """What the status board shows beside the figures (已催报, 已退回) is never served stale."""
    auth.login("admin")
    period = filed.periods[0]
    first = client.get("/dashboard/4407")
    admin = {"Authorization": f"Bearer {token(runner, 'admin')}"}
    assert client.post("/api/v1/reminders", json={"region_code": "4407", "period_id": period.id},
                       headers=admin).status_code == 201
    chased = again(client, "/dashboard/4407", first)
    assert chased.status_code == 200 and "已催报1次" in chased.get_data(as_text=True)
    village = villages("440705")[0]
    assert client.post(f"/api/v1/reports/{village}/{period.id}/return", json={"reason": "数字有误"},
                       headers=admin).status_code == 200
    returned = again(client, "/dashboard/4407", chased)
    assert returned.status_code == 200 and "已退回1" in returned.get_data(as_text=True)


def test_users_of_different_scopes_never_share_a_tag(client, auth, filed):
    auth.login("admin")
    city = client.get("/dashboard/440705")
    auth.logout()
    auth.login("xinhui")
    county = client.get("/dashboard/440705")
    assert county.status_code == 200 and county.headers["ETag"] != city.headers["ETag"]
    # the county's filer holding the city admin's copy (it names the admin, offers review) gets its own
    assert again(client, "/dashboard/440705", city).status_code == 200
    assert again(client, "/dashboard/440705", county).status_code == 304
    # and a code outside its region is refused, whatever tag it sends
    refused = client.get("/dashboard/440781", headers={"If-None-Match": county.headers["ETag"]})
    assert refused.status_code == 403


def test_the_day_is_in_the_tag(client, filed, frozen_now, runner):
    """A unit becomes 逾期 when its due day passes, with no write at all."""
    admin = {"Authorization": f"Bearer {token(runner, 'admin')}"}
    period = filed.periods[1]  # 待报 on 10月5日
    url = f"/api/v1/progress/4407?period={period.id}"
    first = client.get(url, headers=admin)
    assert {child["late"] for child in first.get_json()["children"]} == {"pending"}
    frozen_now(dt.datetime(2022, 10, 5, 23, 59))
    assert again(client, url, first, admin).status_code == 304  # later the same day
    frozen_now(period.deadline + dt.timedelta(hours=9))
    later = again(client, url, first, admin)
    assert later.status_code == 200 and later.headers["ETag"] != first.headers["ETag"]
    assert {child["late"] for child in later.get_json()["children"]} == {"missing"}


def test_the_progress_api_answers_304_until_a_write(client, filed, runner):
    period = filed.periods[0]
    admin = {"Authorization": f"Bearer {token(runner, 'admin')}"}
    url = f"/api/v1/progress/440781?period={period.id}"
    first = client.get(url, headers=admin)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    assert first.get_json()["region"]["totals"].get("enrolled", 0) == 0
    assert again(client, url, first, admin).status_code == 304
    # another caller (another scope) gets the answer, not a confirmation of someone else's copy
    county = {"Authorization": f"Bearer {token(runner, 'taishan')}"}
    assert again(client, url, first, county).status_code == 200
    village = villages("440781")[0]
    assert client.put(f"/api/v1/reports/{village}/{period.id}",
                      json={"values": VALUES, "filer": FILER, "submit": True}, headers=county).status_code == 200
    after = again(client, url, first, admin)
    assert after.status_code == 200 and after.get_json()["region"]["totals"]["enrolled"] == VALUES["enrolled"]
    assert after.headers["ETag"] != first.headers["ETag"]
