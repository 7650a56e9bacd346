"""Pages show text, never markup: no page prints an escaped tag (a `&lt;span` where a badge belongs)."""
import datetime as dt
import re

import pytest
from sqlalchemy import select

from reporting.extensions import db
from reporting.filing import reviewed
from reporting.models import Report

from .conftest import make_user, two_counties_filed, villages

XINHUI = "440705"
ESCAPED_TAG = re.compile(r"&lt;/?(span|strong|a|p|em|b|i|del|ins|td|tr|br|div)\b")


def review_report(period, code):
    from reporting.regions.hierarchy import region_by_code
    return db.session.scalar(select(Report).where(Report.period_id == period.id,
                                                  Report.region_id == region_by_code(code).id))


def test_a_resubmitted_row_shows_its_badge_as_a_badge(jiangmen, frozen_now, client, auth):
    campaign = two_counties_filed(jiangmen, frozen_now)
    period = campaign.periods[0]
    make_user("admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", XINHUI)
    make_user("viewer", "viewer", "4407")
    frozen_now(dt.datetime(2022, 10, 10, 9, 0))
    unit = villages(XINHUI)[0]
    auth.login("admin")
    client.post(f"/review/{XINHUI}/{period.id}/units/{unit}", data={"action": "return", "reason": "请核实"})
    auth.logout()
    auth.login("xinhui")
    client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", data={"newborns_enrolled": "25"},
                headers={"HX-Request": "true"})
    done = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}/resubmit", data={})
    assert done.status_code == 303
    assert reviewed.status(review_report(period, unit)) == "submitted"
    for who in ("xinhui", "viewer"):
        auth.logout()
        auth.login(who)
        grid = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
        row = grid[grid.index(f'id="u-{unit}"'):]
        row = row[:row.index("</tr>")]
        assert '<span class="badge green">已提交</span>' in row
        assert not ESCAPED_TAG.search(grid), ESCAPED_TAG.search(grid)


def _links(html: str) -> list[str]:
    return re.findall(r'href="(/[^"#?]*(?:\?[^"#]*)?)', html)


SKIP = re.compile(r"\.(pdf|xlsx|css|js|svg)$|/logout|/static/|/charts$|/job$")


@pytest.mark.parametrize("username,password", [
    ("jm_admin", "jiangmen-admin-2026"), ("jm_viewer", "jiangmen-viewer-2026"),
    ("filer_440705", "jiangmen-filer-2026")])
def test_no_page_of_the_demo_prints_an_escaped_tag(demo, client, username, password):
    """A crawl from the home page, following the site's own links, as the city, a viewer and a county."""
    client.post("/login", data={"username": username, "password": password})
    start = client.get("/")
    assert start.status_code == 200  # signed in: the home page, not a redirect to the login
    queue, seen, read = ["/"], set(), 0
    while queue and read < 40:
        url = queue.pop(0)
        if url in seen or SKIP.search(url.split("?")[0]):
            continue
        seen.add(url)
        answer = client.get(url)
        if answer.status_code != 200 or "text/html" not in answer.content_type:
            continue
        read += 1
        html = answer.get_data(as_text=True)
        found = ESCAPED_TAG.search(html)
        assert found is None, f"{url} prints {html[found.start() - 80:found.end() + 80]!r}"
        queue += [link.replace("&amp;", "&") for link in _links(html)]
    assert read >= 12, seen
