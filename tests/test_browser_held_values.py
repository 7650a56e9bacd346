"""Journey: what a filer types is never lost: a row with an error survives a reload and shows in another
browser of the account; a correction typed before its 修改原因 is saved once the reason is typed."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from reporting.extensions import db
from reporting.models import Report
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login, make_user, two_counties_filed, villages

pytestmark = pytest.mark.browser

XINHUI, HESHAN = "440705", "440784"


@pytest.fixture
def period(jiangmen, frozen_now):
    campaign = two_counties_filed(jiangmen, frozen_now)
    make_user("xinhui", "county_filer", XINHUI)
    make_user("heshan", "county_filer", HESHAN)
    frozen_now(dt.datetime(2022, 10, 6, 9, 0))
    return campaign.periods[0]


def enrolled_of(period, code):
    db.session.expire_all()
    report = db.session.scalar(db.select(Report).where(Report.period_id == period.id,
                                                       Report.region_id == region_by_code(code).id))
    return report.values(period.campaign.indicators)["enrolled"] if report else None


def test_a_row_in_error_survives_a_reload_and_another_browser(page, browser, live_server, period):
    unit = villages(HESHAN)[0]
    browser_login(page, "heshan")
    page.goto(f"/filing/{period.id}/{HESHAN}")
    page.locator(f"#c-{unit}-population").click()
    for n, value in enumerate(("3100", "2700", "-5")):
        if n:
            page.keyboard.press("Tab")
        page.keyboard.type(value)
    message = page.locator(f"#msg-{unit}")
    expect(message).to_contain_text("未保存")
    expect(page.locator(f"#c-{unit}-enrolled")).to_have_class("invalid")

    page.reload()
    expect(page.locator(f"#c-{unit}-enrolled")).to_have_value("-5")
    expect(page.locator(f"#c-{unit}-population")).to_have_value("3100")
    expect(page.locator("#held-list")).to_contain_text("以下1个单位的输入尚未保存")

    other = browser.new_context(base_url=live_server, locale="zh-CN").new_page()
    browser_login(other, "heshan")
    other.goto(f"/filing/{period.id}/{HESHAN}")
    expect(other.locator(f"#c-{unit}-should_enroll")).to_have_value("2700")
    expect(other.locator(f"#msg-{unit}")).to_contain_text("放弃修改")
    other.context.close()

    page.locator(f"#c-{unit}-enrolled").fill("2050")
    expect(message).not_to_contain_text("未保存")
    assert enrolled_of(period, unit) == 2050
    page.reload()
    expect(page.locator("#held-list")).to_have_count(0)
    expect(page.locator(f"#c-{unit}-population")).to_have_value("3100")


def test_the_reason_typed_afterwards_saves_the_correction(page, period):
    unit = villages(XINHUI)[2]
    browser_login(page, "xinhui")
    page.goto(f"/filing/{period.id}/{XINHUI}")
    page.locator(f"#c-{unit}-enrolled").fill("2100")
    message = page.locator(f"#msg-{unit}")
    expect(message).to_contain_text("修改已提交的报表须填写修改原因")
    page.reload()
    expect(page.locator(f"#c-{unit}-enrolled")).to_have_value("2100")
    page.locator("#reason").fill("补录信息系统数据")
    expect(message).not_to_contain_text("未保存")
    assert enrolled_of(period, unit) == 2100
    page.reload()
    expect(page.locator("#held-list")).to_have_count(0)
    expect(page.locator(f"#c-{unit}-enrolled")).to_have_value("2100")
