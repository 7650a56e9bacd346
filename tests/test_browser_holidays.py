"""Journey: the city admin pastes the 2027 春节 line, checks what was understood, saves; a county filer
finds the moved deadline on the home page."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db

from .conftest import browser_login, make_user

pytestmark = pytest.mark.browser


def test_admin_enters_spring_festival_and_the_filer_sees_the_new_deadline(page, jiangmen, frozen_now):
    frozen_now(dt.datetime(2027, 2, 5, 9, 0))  # the period due Thursday 2月11日 is the one being filed
    campaign, _ = create_campaign(name="江门市2027年度周报", root=jiangmen, start=dt.date(2026, 9, 3),
                                  end=dt.date(2026, 12, 31), extend_to=dt.date(2027, 2, 28), rhythm="weekly")
    db.session.commit()
    make_user("jm_admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", "440705")

    browser_login(page, "jm_admin")
    expect(page.locator(".warning", has_text="尚未收录2027年")).to_contain_text("第23期（截止2月11日）")
    page.get_by_role("link", name="节假日调整").first.click()
    page.wait_for_url("**/admin/holidays")
    expect(page.get_by_label("年份", exact=True)).to_have_value("2027")
    page.get_by_label("通知原文").fill("春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。")
    # a wrong year first: the weekday in brackets gives it away, and nothing can be saved
    page.get_by_label("年份", exact=True).fill("2026")
    page.get_by_role("button", name="识别").click()
    preview = page.locator("#preview")
    expect(preview.locator(".error").first).to_contain_text("2026年2月14日是星期六，通知写的是星期日：年份是否填错？")
    expect(preview.get_by_role("button", name="确认保存")).to_have_count(0)
    page.get_by_label("年份", exact=True).fill("2027")
    page.get_by_role("button", name="识别").click()

    expect(preview).to_be_visible()
    row = preview.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("春节")
    expect(row.locator("td").nth(1)).to_have_text("2027年2月6日（周六）至2月12日（周五），共7天")
    expect(row.locator("td").nth(2)).to_have_text("2月14日（周日）")
    expect(row.locator("td").nth(3)).to_have_text("无误")
    expect(preview.locator("ul.changes li")).to_have_text(
        ["江门市2027年度周报 第23期 报送截止 2027年2月11日 → 2月14日（周日）"])
    assert campaign.periods[22].due == dt.date(2027, 2, 11)  # nothing saved by looking

    preview.get_by_role("button", name="确认保存").click()
    page.wait_for_url("**/admin/holidays?year=2027")
    expect(page.locator(".flash")).to_contain_text("报送截止日期调整：第23期 报送截止 2027年2月11日 → 2月14日")
    expect(page.locator("#overrides tbody tr")).to_have_count(8)
    expect(page.locator("#moved tbody tr")).to_have_count(1)
    page.get_by_role("button", name="退出").click()

    browser_login(page, "xinhui")
    notice = page.locator("#due-changes")
    expect(notice).to_contain_text("第23期 报送截止 2027年2月11日 → 2月14日（周日）")
    expect(page.locator("dl.facts")).to_contain_text("2027年2月14日（周日）")
    expect(page.locator(".warning", has_text="尚未收录")).to_have_count(0)
