"""Nothing typed is lost: a grid row that cannot be saved is held as typed, with its errors, for every
browser of the account, until it is saved or discarded (放弃修改); 提交 lists what the grid shows in red."""
import datetime as dt

import pytest
from sqlalchemy import select

from reporting.extensions import db
from reporting.models import HeldEdit, Report, Revision
from reporting.regions.hierarchy import region_by_code

from .conftest import VALUES, make_user, two_counties_filed, villages

XINHUI, HESHAN = "440705", "440784"
HX = {"HX-Request": "true"}


@pytest.fixture
def filed(jiangmen, frozen_now):
    """Period 1: 新会区 submitted every village, 鹤山市 nothing yet; 10月6日, before the due date."""
    campaign = two_counties_filed(jiangmen, frozen_now)
    make_user("xinhui", "county_filer", XINHUI)
    make_user("heshan", "county_filer", HESHAN)
    frozen_now(dt.datetime(2022, 10, 6, 9, 0))
    return campaign.periods[0]


def row_of(page: str, code: str) -> str:
    row = page[page.index(f'id="u-{code}"'):]
    return row[:row.index("</tr>")]


def report_of(period, code):
    db.session.expire_all()
    return db.session.scalar(select(Report).where(Report.period_id == period.id,
                                                  Report.region_id == region_by_code(code).id))


def test_a_row_with_a_negative_cell_keeps_every_cell_typed_after_a_reload(filed, client, auth, app):
    period = filed
    unit = villages(HESHAN)[0]
    auth.login("heshan")
    answer = client.post(f"/filing/{period.id}/{HESHAN}/units/{unit}", headers=HX,
                         data={"population": "3100", "should_enroll": "2700", "enrolled": "-5",
                               "students_enrolled": "410"})
    text = answer.get_data(as_text=True)
    assert "未保存" in text and "放弃修改" in text
    assert report_of(period, unit) is None  # nothing counted

    # a reload, and another browser of the same account, show the row as it was typed, with its error
    other = app.test_client()
    other.post("/login", data={"username": "heshan", "password": "correct-horse-battery"})
    for browser in (client, other):
        page = browser.get(f"/filing/{period.id}/{HESHAN}").get_data(as_text=True)
        row = row_of(page, unit)
        assert 'value="-5"' in row and 'value="410"' in row and 'value="3100"' in row
        assert 'class="invalid"' in row and "未保存" in row
        assert "以下1个单位的输入尚未保存" in page and f'href="#u-{unit}"' in page

    # the filer's home page lists it too, with a link to the row
    home = client.get("/").get_data(as_text=True)
    assert f"{period.label}有1个村（社区）的输入尚未保存" in home and f"#u-{unit}" in home

    # fixed: the row is saved with every cell, and nothing is held any more
    fixed = client.post(f"/filing/{period.id}/{HESHAN}/units/{unit}", headers=HX,
                        data={"population": "3100", "should_enroll": "2700", "enrolled": "2050",
                              "students_enrolled": "410"})
    assert "未保存" not in fixed.get_data(as_text=True)
    saved = report_of(period, unit).values(period.campaign.indicators)
    assert (saved["enrolled"], saved["students_enrolled"], saved["population"]) == (2050, 410, 3100)
    page = client.get(f"/filing/{period.id}/{HESHAN}").get_data(as_text=True)
    assert "尚未保存" not in page and db.session.scalar(select(HeldEdit)) is None


def test_discarding_shows_the_saved_values_again(filed, client, auth):
    period = filed
    unit = villages(XINHUI)[0]
    auth.login("xinhui")
    client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", headers=HX, data={"enrolled": "abc"})
    assert 'value="abc"' in row_of(client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True), unit)
    done = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}/discard")
    assert done.status_code == 303
    page = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
    assert f'value="{VALUES["enrolled"]}"' in row_of(page, unit) and "尚未保存" not in page


def test_a_correction_typed_before_its_reason_is_saved_when_the_reason_comes(filed, client, auth):
    period = filed
    unit, second = villages(XINHUI)[:2]
    auth.login("xinhui")
    waiting = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", headers=HX,
                          data={"enrolled": "2100", "revision": "1"})
    assert "修改已提交的报表须填写修改原因" in waiting.get_data(as_text=True)
    page = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
    assert 'value="2100"' in row_of(page, unit) and "填写修改原因后即保存" in row_of(page, unit)
    assert 'id="reason"' in page
    # the reason typed afterwards: the row goes again with it (the page re-sends the held rows)
    saved = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", headers=HX,
                        data={"enrolled": "2100", "revision": "1", "reason": "补录信息系统数据"})
    assert "未保存" not in saved.get_data(as_text=True)
    assert report_of(period, unit).values(period.campaign.indicators)["enrolled"] == 2100

    # and a correction still waiting when 提交修改 is pressed with a reason is saved by it
    client.post(f"/filing/{period.id}/{XINHUI}/units/{second}", headers=HX, data={"enrolled": "2200"})
    assert report_of(period, second).values(period.campaign.indicators)["enrolled"] == 2000
    submitted = client.post(f"/filing/{period.id}/{XINHUI}/submit", data={
        "filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长", "reason": "补录",
        "acknowledge": "y"})
    assert submitted.status_code == 303, submitted.get_data(as_text=True)
    corrected = report_of(period, second)
    assert corrected.values(period.campaign.indicators)["enrolled"] == 2200
    assert db.session.scalar(select(Revision.reason).where(Revision.report_id == corrected.id)) == "补录"
    assert db.session.scalar(select(HeldEdit)) is None


def test_submit_lists_every_error_the_grid_shows_before_the_warnings(filed, client, auth):
    period = filed
    units = villages(XINHUI)
    auth.login("xinhui")
    # a 其中 above its total and a negative count, typed into submitted rows
    client.post(f"/filing/{period.id}/{XINHUI}/units/{units[0]}", headers=HX,
                data={"students_enrolled": "5000", "reason": "更正"})
    client.post(f"/filing/{period.id}/{XINHUI}/units/{units[1]}", headers=HX,
                data={"newborns_enrolled": "-3", "reason": "更正"})
    refused = client.post(f"/filing/{period.id}/{XINHUI}/submit", data={
        "filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长", "reason": "更正",
        "acknowledge": "y"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    summary = text[text.index('class="summary"'):]
    township = region_by_code(units[0]).parent.name
    names = [region_by_code(code).name for code in units[:2]]
    assert "有 2 处错误" in summary and "不能提交" in summary
    assert f"{township} · {names[0]}" in summary and f"{township} · {names[1]}" in summary
    assert f'href="#c-{units[0]}-students_enrolled"' in summary and f'href="#c-{units[1]}-newborns_enrolled"' in summary
    # nothing went through
    assert report_of(period, units[0]).values(period.campaign.indicators)["students_enrolled"] == VALUES["students_enrolled"]
